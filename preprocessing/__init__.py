"""The OpenCV stage of the Harlow pipeline: crop, grayscale and resize image regions."""
