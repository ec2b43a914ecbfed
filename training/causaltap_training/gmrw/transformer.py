"""GMFlow-style feature transformer: sine position encoding, (shifted-)window self/cross attention.

Layout (names = official state_dict keys):
  transformer.layers.{i}.self_attn.{q_proj,k_proj,v_proj,merge,norm1}
  transformer.layers.{i}.cross_attn_ffn.{q_proj,k_proj,v_proj,merge,norm1,mlp.0,mlp.2,norm2}

A layer computes `out = src + msg` with
  msg = LN1(merge(attn(q = Wq src, k = Wk tgt, v = Wv tgt)))                   (self: tgt = src)
  msg = LN2(W2 GELU(W1 [src, msg]))                                           (cross layer only)
Attention is single-head over attn_splits x attn_splits windows, scale 1/sqrt(C). Odd blocks shift
the windows by half a window (roll, -100 between tokens of different Swin regions, roll back).
Both frames run as one batch [f0; f1] with targets [f1; f0]; the targets of a block are the other
frame's features at the block input.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

SHIFT_MASK_VALUE = -100.0


def sine_position_encoding(channels: int, height: int, width: int, device=None,
                           temperature: float = 10000.0) -> torch.Tensor:
  """DETR sine encoding (normalize=True, scale=2*pi) of an height x width window.

  Returns [channels, height, width] float32: channels [0, C/2) encode y, [C/2, C) encode x; within
  each half channel 2k is sin(e / T^(2k/(C/2))) and 2k+1 is cos(e / T^(2k/(C/2))), with
  e = (index + 1) / (size + 1e-6) * 2*pi.
  """
  npf = channels // 2
  eps, scale = 1e-6, 2 * math.pi
  y = torch.arange(1, height + 1, dtype=torch.float32, device=device)
  x = torch.arange(1, width + 1, dtype=torch.float32, device=device)
  y = y / (y[-1:] + eps) * scale
  x = x / (x[-1:] + eps) * scale
  dim_t = torch.arange(npf, dtype=torch.float32, device=device)
  dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / npf)
  py = y[:, None] / dim_t  # [h, npf]
  px = x[:, None] / dim_t  # [w, npf]
  py = torch.stack((py[:, 0::2].sin(), py[:, 1::2].cos()), dim=2).flatten(1)
  px = torch.stack((px[:, 0::2].sin(), px[:, 1::2].cos()), dim=2).flatten(1)
  pos_y = py[:, None, :].expand(height, width, npf)
  pos_x = px[None, :, :].expand(height, width, npf)
  return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).contiguous()


def windowed_position_encoding(channels: int, height: int, width: int, splits: int,
                               device=None) -> torch.Tensor:
  """The encoding GMRW adds to the CNN features: computed on one window, tiled splits x splits.

  Returns [channels, height, width].
  """
  pe = sine_position_encoding(channels, height // splits, width // splits, device=device)
  return pe.repeat(1, splits, splits)


def shifted_window_mask(height: int, width: int, splits: int, device=None) -> torch.Tensor:
  """Additive mask [splits*splits, L, L] (L = window tokens) for attention on rolled windows.

  After rolling by (-wh/2, -ww/2), the map is cut into Swin regions per axis: [0, H-wh),
  [H-wh, H-wh/2), [H-wh/2, H). Tokens of different regions (in either axis) get SHIFT_MASK_VALUE.
  Window order is row-major over the splits x splits grid.
  """
  wh, ww = height // splits, width // splits

  def axis_regions(size: int, win: int) -> torch.Tensor:
    i = torch.arange(size, device=device)
    return (i >= size - win).long() + (i >= size - win // 2).long()

  region = axis_regions(height, wh)[:, None] * 3 + axis_regions(width, ww)[None, :]  # [H, W]
  region = region.reshape(splits, wh, splits, ww).permute(0, 2, 1, 3).reshape(splits * splits, wh * ww)
  diff = region[:, :, None] != region[:, None, :]
  return torch.zeros(diff.shape, device=device).masked_fill(diff, SHIFT_MASK_VALUE)


def _to_windows(t: torch.Tensor, splits: int) -> torch.Tensor:
  """[B, H, W, C] -> [B*splits*splits, (H/splits)*(W/splits), C], windows row-major."""
  b, h, w, c = t.shape
  t = t.reshape(b, splits, h // splits, splits, w // splits, c).permute(0, 1, 3, 2, 4, 5)
  return t.reshape(b * splits * splits, (h // splits) * (w // splits), c)


def _from_windows(t: torch.Tensor, splits: int, b: int, h: int, w: int) -> torch.Tensor:
  """Inverse of _to_windows."""
  c = t.shape[-1]
  t = t.reshape(b, splits, splits, h // splits, w // splits, c).permute(0, 1, 3, 2, 4, 5)
  return t.reshape(b, h, w, c)


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, splits: int,
                     shift: bool, mask: Optional[torch.Tensor]) -> torch.Tensor:
  """Single-head attention within windows.

  Args:
    q, k, v: [B, H, W, C].
    splits: windows per axis.
    shift: roll by half a window first (and back after); needs `mask` from shifted_window_mask.
  Returns: [B, H, W, C].
  """
  b, h, w, c = q.shape
  shift = shift and splits > 1  # one window: plain full attention (official)
  sh, sw = (h // splits) // 2, (w // splits) // 2
  if shift:
    q, k, v = (torch.roll(t, shifts=(-sh, -sw), dims=(1, 2)) for t in (q, k, v))
  qw, kw, vw = (_to_windows(t, splits) for t in (q, k, v))
  scores = torch.matmul(qw, kw.transpose(1, 2)) / (c ** 0.5)  # [B*S*S, L, L]
  if shift:
    n = splits * splits
    scores = (scores.view(b, n, scores.shape[1], scores.shape[2]) + mask[None].to(scores.dtype)).view_as(scores)
  out = torch.matmul(torch.softmax(scores, dim=-1), vw)
  out = _from_windows(out, splits, b, h, w)
  if shift:
    out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
  return out


class LayerNorm32(nn.LayerNorm):
  """LayerNorm evaluated in float32 whatever the input dtype (official CustomLayerNorm)."""

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return super().forward(x.float()).to(x.dtype)


class TransformerLayer(nn.Module):
  """Attention layer (+ FFN when with_ffn). See the module docstring."""

  def __init__(self, d_model: int, with_ffn: bool, ffn_dim_expansion: int = 4, with_shift: bool = False):
    super().__init__()
    self.with_ffn = with_ffn
    self.with_shift = with_shift
    self.q_proj = nn.Linear(d_model, d_model, bias=False)
    self.k_proj = nn.Linear(d_model, d_model, bias=False)
    self.v_proj = nn.Linear(d_model, d_model, bias=False)
    self.merge = nn.Linear(d_model, d_model, bias=False)
    self.norm1 = LayerNorm32(d_model)
    if with_ffn:
      hidden = 2 * d_model * ffn_dim_expansion
      self.mlp = nn.Sequential(nn.Linear(2 * d_model, hidden, bias=False), nn.GELU(),
                               nn.Linear(hidden, d_model, bias=False))
      self.norm2 = LayerNorm32(d_model)

  def forward(self, source: torch.Tensor, target: torch.Tensor, splits: int,
              shift_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """source, target: [B, H, W, C] -> [B, H, W, C]."""
    msg = window_attention(self.q_proj(source), self.k_proj(target), self.v_proj(target),
                           splits, self.with_shift, shift_mask)
    msg = self.norm1(self.merge(msg))
    if self.with_ffn:
      msg = self.norm2(self.mlp(torch.cat([source, msg], dim=-1)))
    return source + msg


class TransformerBlock(nn.Module):
  """Self attention (no FFN), then cross attention to the target with FFN."""

  def __init__(self, d_model: int, ffn_dim_expansion: int, with_shift: bool):
    super().__init__()
    self.self_attn = TransformerLayer(d_model, False, ffn_dim_expansion, with_shift)
    self.cross_attn_ffn = TransformerLayer(d_model, True, ffn_dim_expansion, with_shift)

  def forward(self, source: torch.Tensor, target: torch.Tensor, splits: int,
              shift_mask: Optional[torch.Tensor]) -> torch.Tensor:
    source = self.self_attn(source, source, splits, shift_mask)
    return self.cross_attn_ffn(source, target, splits, shift_mask)


class FeatureTransformer(nn.Module):
  """Joint transformer over a frame pair; odd blocks use shifted windows."""

  def __init__(self, num_layers: int = 6, d_model: int = 128, ffn_dim_expansion: int = 4):
    super().__init__()
    self.d_model = d_model
    self.layers = nn.ModuleList([
        TransformerBlock(d_model, ffn_dim_expansion, with_shift=(i % 2 == 1)) for i in range(num_layers)])
    for p in self.parameters():
      if p.dim() > 1:
        nn.init.xavier_uniform_(p)

  def forward(self, feature0: torch.Tensor, feature1: torch.Tensor, splits: int):
    """feature0, feature1: [B, C, H, W] (position encoding already added) -> both [B, C, H, W]."""
    b, c, h, w = feature0.shape
    use_mask = splits > 1 and any(layer.self_attn.with_shift for layer in self.layers)
    shift_mask = shifted_window_mask(h, w, splits, device=feature0.device) if use_mask else None
    src = torch.cat((feature0, feature1), dim=0).permute(0, 2, 3, 1)  # [2B, H, W, C]
    tgt = torch.cat((src[b:], src[:b]), dim=0)
    for layer in self.layers:
      src = layer(src, tgt, splits, shift_mask)
      tgt = torch.cat((src[b:], src[:b]), dim=0)
    out = src.permute(0, 3, 1, 2).contiguous()
    return out[:b], out[b:]
