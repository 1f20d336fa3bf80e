"""Training toolkit: builds, trains and evaluates the bot's models and exports them to ONNX."""
