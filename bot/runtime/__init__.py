"""Running the models: the engine that loads them, the step-graph loop, sampling, the
batchers that share steps between requests, the remote tier behind the same interface
(its Ray Serve app and wire format) and the ONNX file guard."""
