"""The Discord bot: serves ONNX models with onnxruntime; never imports TensorFlow."""
