"""Face detection, 68-point landmarks, tracking, MuseTalk's crop rule and face-parsing masks (no mmcv/mmpose)."""
