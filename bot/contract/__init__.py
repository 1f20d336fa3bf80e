"""The model-file contract: the metadata an ONNX file carries, its schema, the input and
output signatures of each kind of model, how a model is described to users, and where
trained styles live. Validated when a file is loaded."""
