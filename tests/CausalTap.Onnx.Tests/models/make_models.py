"""Writes the tiny ONNX models the CausalTap.Onnx tests run, into the directory given as argv[1].

Weights follow simple closed forms that the C# tests recompute (see TestModels.cs); keep both in step.
Uses the Debian python3-onnx (1.12, opset <= 17).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def save(graph, out_dir, name):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="causaltap-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, name))


def add_model():
    # C = A + B, fixed shape [2, 3].
    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, [2, 3])
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, [2, 3])
    c = helper.make_tensor_value_info("C", TensorProto.FLOAT, [2, 3])
    return helper.make_graph([helper.make_node("Add", ["A", "B"], ["C"])], "add", [a, b], [c])


def mlp_model():
    # Y = Relu(X @ W + bias), X: [batch, 4], W[i, j] = 0.1 * (i * 3 + j) - 0.5, bias[j] = 0.25 * j - 0.25.
    w = np.array([[0.1 * (i * 3 + j) - 0.5 for j in range(3)] for i in range(4)], dtype=np.float32)
    bias = np.array([0.25 * j - 0.25 for j in range(3)], dtype=np.float32)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 3])
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"]),
        helper.make_node("Add", ["XW", "bias"], ["Z"]),
        helper.make_node("Relu", ["Z"], ["Y"]),
    ]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(bias, "bias")]
    return helper.make_graph(nodes, "mlp", [x], [y], initializer=inits)


def dtypes_model():
    # One path per element type, all length 4:
    #   H (float16) -> Cast float -> *2 -> Cast float16 -> H2      (H2 = 2H)
    #   L (int64)   -> L + L -> L2                                  (L2 = 2L)
    #   I (int32)   -> I + I -> I2                                  (I2 = 2I)
    #   U (uint8)   -> Cast int32 -> +1 -> Cast uint8 -> U1         (U1 = U + 1, wraps at 256)
    #   Bm (bool)   -> Not -> NotB                                  (NotB = !Bm)
    #   L           -> Greater(L, 2) -> LGt2 (bool)
    ins = [
        helper.make_tensor_value_info("H", TensorProto.FLOAT16, [4]),
        helper.make_tensor_value_info("L", TensorProto.INT64, [4]),
        helper.make_tensor_value_info("I", TensorProto.INT32, [4]),
        helper.make_tensor_value_info("U", TensorProto.UINT8, [4]),
        helper.make_tensor_value_info("Bm", TensorProto.BOOL, [4]),
    ]
    outs = [
        helper.make_tensor_value_info("H2", TensorProto.FLOAT16, [4]),
        helper.make_tensor_value_info("L2", TensorProto.INT64, [4]),
        helper.make_tensor_value_info("I2", TensorProto.INT32, [4]),
        helper.make_tensor_value_info("U1", TensorProto.UINT8, [4]),
        helper.make_tensor_value_info("NotB", TensorProto.BOOL, [4]),
        helper.make_tensor_value_info("LGt2", TensorProto.BOOL, [4]),
    ]
    nodes = [
        helper.make_node("Cast", ["H"], ["Hf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["Hf", "two"], ["Hf2"]),
        helper.make_node("Cast", ["Hf2"], ["H2"], to=TensorProto.FLOAT16),
        helper.make_node("Add", ["L", "L"], ["L2"]),
        helper.make_node("Add", ["I", "I"], ["I2"]),
        helper.make_node("Cast", ["U"], ["Ui"], to=TensorProto.INT32),
        helper.make_node("Add", ["Ui", "one"], ["Ui1"]),
        helper.make_node("Cast", ["Ui1"], ["U1"], to=TensorProto.UINT8),
        helper.make_node("Not", ["Bm"], ["NotB"]),
        helper.make_node("Greater", ["L", "twoL"], ["LGt2"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
        numpy_helper.from_array(np.array(1, dtype=np.int32), "one"),
        numpy_helper.from_array(np.array(2, dtype=np.int64), "twoL"),
    ]
    return helper.make_graph(nodes, "dtypes", ins, outs, initializer=inits)


def conv_model():
    # Y = Relu(Conv(X, Wc, Bc)), X: [1, 2, 8, 8], Wc: [3, 2, 3, 3], pads 1 -> Y: [1, 3, 8, 8].
    # Wc[o, c, ky, kx] = 0.05 * ((o * 18 + c * 9 + ky * 3 + kx) % 7) - 0.15, Bc[o] = 0.1 * o - 0.1.
    wc = np.array([[[[0.05 * ((o * 18 + c * 9 + ky * 3 + kx) % 7) - 0.15 for kx in range(3)] for ky in range(3)]
                    for c in range(2)] for o in range(3)], dtype=np.float32)
    bc = np.array([0.1 * o - 0.1 for o in range(3)], dtype=np.float32)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 8, 8])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3, 8, 8])
    nodes = [
        helper.make_node("Conv", ["X", "Wc", "Bc"], ["Yc"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["Yc"], ["Y"]),
    ]
    inits = [numpy_helper.from_array(wc, "Wc"), numpy_helper.from_array(bc, "Bc")]
    return helper.make_graph(nodes, "conv", [x], [y], initializer=inits)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    save(add_model(), out_dir, "add.onnx")
    save(mlp_model(), out_dir, "mlp.onnx")
    save(dtypes_model(), out_dir, "dtypes.onnx")
    save(conv_model(), out_dir, "conv.onnx")
    print("ok", out_dir)


if __name__ == "__main__":
    main()
