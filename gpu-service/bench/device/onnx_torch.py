"""Runs the project's ONNX graphs with PyTorch kernels: the device bench's fallback where the machine's
onnxruntime has no CUDA provider (the `onnxruntime` wheel is CPU-only). Not a general converter: it
covers the ops the model builder and the NASA/NAG rewrite emit (decomposed attention form), which is
what the bench carries; an unknown op raises. Int64 shape values stay on the host, floats on `device`,
so a CUDA graph can capture a whole call (no host synchronisation inside).
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

TORCH_TYPES = {1: torch.float32, 10: torch.float16, 11: torch.float64, 6: torch.int32, 7: torch.int64, 9: torch.bool}
NP_TYPES = {1: np.float32, 10: np.float16, 6: np.int32, 7: np.int64}


def attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
    return out


class WeightStore:
    """External data read once per (file, offset) and moved to the device: the UNet's variants share it."""

    def __init__(self, device: str):
        self.device = device
        self.maps: dict = {}
        self.tensors: dict = {}

    def external(self, folder: str, t) -> torch.Tensor:
        info = {e.key: e.value for e in t.external_data}
        path = os.path.join(folder, info["location"])
        key = (os.path.realpath(path), int(info.get("offset", 0)))
        if key not in self.tensors:
            if path not in self.maps:
                self.maps[path] = np.memmap(path, dtype=np.uint8, mode="r")
            offset, length = key[1], int(info["length"])
            raw = np.asarray(self.maps[path][offset : offset + length]).view(NP_TYPES[t.data_type]).reshape(tuple(t.dims))
            self.tensors[key] = torch.from_numpy(raw.copy()).to(self.device)
        return self.tensors[key]


class TorchGraph:
    """One ONNX model as a callable: feeds (name → torch tensor on the device) → list of outputs."""

    def __init__(self, path: str, store: WeightStore):
        model = onnx.load(path, load_external_data=False)
        self.device = store.device
        folder = os.path.dirname(os.path.abspath(path))
        self.consts: dict = {}
        # Resize's scales are read on the host like shapes.
        host = {n.input[2] for n in model.graph.node if n.op_type == "Resize" and len(n.input) > 2}
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                self.consts[t.name] = store.external(folder, t)
            else:
                arr = numpy_helper.to_array(t)
                on_host = arr.dtype.kind in "iub" or t.name in host
                self.consts[t.name] = arr if on_host else torch.from_numpy(arr.copy()).to(self.device)
        self.nodes = [(n.op_type, list(n.input), list(n.output), attrs(n)) for n in model.graph.node]
        for op, *_ in self.nodes:
            if not hasattr(self, f"op_{op}"):
                raise NotImplementedError(f"{path}: op {op} is not supported by onnx_torch")
        self.inputs = [i.name for i in model.graph.input]
        self.outputs = [o.name for o in model.graph.output]
        last = {}
        for i, (_, ins, _, _) in enumerate(self.nodes):
            for name in ins:
                last[name] = i
        self.free_after = [[n for n in ins if last.get(n) == i and n not in self.consts and n not in self.outputs] for i, (_, ins, _, _) in enumerate(self.nodes)]

    def __call__(self, feeds: dict) -> list:
        values = dict(self.consts)
        values.update(feeds)
        for i, (op, ins, outs, a) in enumerate(self.nodes):
            args = [values[n] if n else None for n in ins]
            result = getattr(self, f"op_{op}")(a, *args)
            if len(outs) == 1:
                values[outs[0]] = result
            else:
                for name, r in zip(outs, result):
                    values[name] = r
            for name in self.free_after[i]:
                values.pop(name, None)
        return [values[o] for o in self.outputs]

    # ---- helpers
    def dev(self, x):
        return torch.from_numpy(np.asarray(x)).to(self.device) if isinstance(x, np.ndarray) else x

    def binary(self, fn_np, fn_t, a, b):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return fn_np(a, b)
        return fn_t(self.dev(a), self.dev(b))

    # ---- elementwise
    def op_Add(self, _, a, b): return self.binary(np.add, torch.add, a, b)
    def op_Sub(self, _, a, b): return self.binary(np.subtract, torch.sub, a, b)
    def op_Mul(self, _, a, b): return self.binary(np.multiply, torch.mul, a, b)
    def op_Div(self, _, a, b): return self.binary(np.divide, torch.div, a, b)
    def op_Min(self, _, a, b): return self.binary(np.minimum, torch.minimum, a, b)
    def op_Sigmoid(self, _, x): return torch.sigmoid(x)
    def op_Erf(self, _, x): return torch.erf(x)
    def op_Cos(self, _, x): return torch.cos(x)
    def op_Sin(self, _, x): return torch.sin(x)
    def op_Relu(self, _, x): return torch.relu(x)
    def op_Identity(self, _, x): return x

    def op_Cast(self, a, x):
        if isinstance(x, np.ndarray):
            return x.astype(NP_TYPES[a["to"]])
        return x.to(TORCH_TYPES[a["to"]])

    # ---- shapes (host int64)
    def op_Shape(self, _, x): return np.array(x.shape, dtype=np.int64)

    def op_Reshape(self, _, x, shape):
        dims = [int(d) if d != 0 else x.shape[i] for i, d in enumerate(np.asarray(shape).tolist())]
        return x.reshape(dims)

    def op_Transpose(self, a, x): return x.permute(*a["perm"])
    def op_Unsqueeze(self, _, x, axes):
        for ax in sorted(int(v) for v in np.asarray(axes)):
            x = x.unsqueeze(ax)
        return x

    def op_Concat(self, a, *xs):
        if all(isinstance(x, np.ndarray) for x in xs):
            return np.concatenate(xs, axis=a["axis"])
        return torch.cat([self.dev(x) for x in xs], dim=a["axis"])

    def op_Split(self, a, x, split):
        return torch.split(x, [int(s) for s in np.asarray(split)], dim=a.get("axis", 0))

    # ---- linear algebra and layers
    def op_MatMul(self, _, a, b): return torch.matmul(a, b)

    def op_Conv(self, a, x, w, b=None):
        pads = a.get("pads", [0, 0, 0, 0])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise NotImplementedError("asymmetric Conv padding")
        return F.conv2d(x, w, b, stride=tuple(a.get("strides", [1, 1])), padding=(pads[0], pads[1]), dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))

    def op_InstanceNormalization(self, a, x, scale, bias):
        return F.instance_norm(x, weight=scale, bias=bias, eps=a.get("epsilon", 1e-5))

    def op_LayerNormalization(self, a, x, scale, bias=None):
        axis = a.get("axis", -1)
        shape = x.shape[axis:] if axis != -1 else x.shape[-1:]
        return F.layer_norm(x, tuple(shape), scale, bias, a.get("epsilon", 1e-5))

    def op_Softmax(self, a, x): return torch.softmax(x, dim=a.get("axis", -1))

    def op_Resize(self, a, x, _roi=None, scales=None, sizes=None):
        if a.get("mode", b"nearest") not in (b"nearest", "nearest"):
            raise NotImplementedError("Resize mode")
        s = [float(v) for v in np.asarray(scales)] if scales is not None and np.asarray(scales).size else None
        if s is None or s[:2] != [1.0, 1.0] or s[2] != int(s[2]) or s[3] != int(s[3]):
            raise NotImplementedError("Resize: only integer spatial scales")
        # Nearest with integer scales (half_pixel, round_prefer_floor) repeats each pixel; expand + reshape
        # never waits for the GPU (repeat_interleave with a count can), so a CUDA graph can capture it.
        n, c, h, w = x.shape
        a, b = int(s[2]), int(s[3])
        return x[:, :, :, None, :, None].expand(n, c, h, a, w, b).reshape(n, c, h * a, w * b)

    # ---- reductions and indexing
    def _axes(self, a, axes):
        return [int(v) for v in (np.asarray(axes) if axes is not None else a["axes"])]

    def op_ReduceSum(self, a, x, axes=None): return x.sum(dim=self._axes(a, axes), keepdim=bool(a.get("keepdims", 1)))
    def op_ReduceL2(self, a, x, axes=None): return torch.linalg.vector_norm(x, 2, dim=self._axes(a, axes), keepdim=bool(a.get("keepdims", 1)))
    def op_ReduceL1(self, a, x, axes=None): return torch.linalg.vector_norm(x, 1, dim=self._axes(a, axes), keepdim=bool(a.get("keepdims", 1)))

    def op_Gather(self, a, data, idx):
        if a.get("axis", 0) != 0:
            raise NotImplementedError("Gather: only axis 0")
        return torch.index_select(data, 0, self.dev(idx).reshape(-1).long()).reshape(*idx.shape, *data.shape[1:])

    def op_ArgMax(self, a, x):
        return torch.argmax(x, dim=a.get("axis", 0), keepdim=bool(a.get("keepdims", 1)))

    def op_GatherND(self, a, data, idx):
        if a.get("batch_dims", 0) != 1 or idx.shape[-1] != 1 or idx.dim() != 2:
            raise NotImplementedError("GatherND: only batch_dims=1 with [B, 1] indices")
        rows = torch.arange(data.shape[0], device=data.device)
        return data[rows, idx[:, 0].long()]
