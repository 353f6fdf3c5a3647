"""MuseTalk's face code (lip-dub only): detection, 68-point landmarks, tracking, the crop rule and face-parsing
masks (no mmcv/mmpose)."""
