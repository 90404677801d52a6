"""Top-down human pose estimation support for the ViTPose chapter: COCO's keypoint definitions
(`keypoints`), heatmap targets and their decoding with UDP (`heatmaps`)."""
