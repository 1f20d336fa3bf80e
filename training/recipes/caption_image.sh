#!/usr/bin/env bash
# Makes the image captioner: captions_encoder.onnx (the frozen MobileNetV2 and a concept
# classifier: 300 concept words' probabilities) and captions_image_decoder.onnx beside
# it (a caption LM that follows the concepts), their held-out evaluation, and the caption
# card (captions.md, with the caption LM of captions.sh, which must be in OUT_DIR).
# Time, on 2 CPU cores: the decoder's pretraining about 29 min (11 epochs), the
#   captioner 4 to 8 min (the shipped one: 3.8 min).
# Data: flickr8k-captions, flickr8k-images (900 photos), mobilenet-v2 and coco-captions
#   (for the card), fetched first; DATA_FROM=DIR copies them from a local mirror.
# Output: OUT_DIR (default exported_models/; it replaces the shipped files and card).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
mkdir -p "$OUT_DIR"

python -m training data fetch flickr8k-captions flickr8k-images mobilenet-v2 coco-captions \
    ${DATA_FROM:+--from "$DATA_FROM"}
C=data/captions

# The decoder's start: a caption LM that reads concepts and never saw these images'
# captions (--resume continues from the best weights).
python -m training train caption-concepts --data "$C/flickr8k_captions_train.csv" \
    --exclude-images "$C/images/captions.csv" --batch-size 256 --learning-rate 4e-3 \
    --epochs 24 --patience 2 --run-dir runs/captions_concepts
# The captioner: concept classifier on the frozen features, decoder fine-tuned on the
# 900 captioned photos (the held-out 10% never trained on).
python -m training train caption-image --decoder-run runs/captions_concepts \
    --condition concepts --concept-l2 0.3 --captions "$C/images/captions.csv" \
    --images "$C/images" --epochs 10 --patience 2 --run-dir runs/capimg_concepts_l2_0.3 \
    --out "$OUT_DIR/captions_encoder.onnx"
python -m training evaluate caption --model "$OUT_DIR/captions_image_decoder.onnx" \
    --encoder "$OUT_DIR/captions_encoder.onnx" --data "$C/images/captions.csv" \
    --images "$C/images" --held-out
python -m training card caption --model "$OUT_DIR/captions.onnx" \
    --encoder "$OUT_DIR/captions_encoder.onnx" --data "$C/coco_captions_val2017.json" \
    --data "$C/flickr8k_captions_train.csv" --images "$C/images" \
    --image-run runs/capimg_concepts_l2_0.3
