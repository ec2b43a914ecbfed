"""Pretrained feature backbones (architecture code written here; weights from ../shared/pretrained)."""
