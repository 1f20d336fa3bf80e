"""The generic token language-model pipeline shared by /write, /caption and /paint."""
