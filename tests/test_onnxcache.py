"""Sessions loaded from the cached, once-optimised ONNX file compute what a plain session computes."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from voicebot.onnxcache import fast_session, optimized_path


def small_model(path):
    """x @ W + b, then Relu, then Add of a constant folded by the optimiser."""
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    one = numpy_helper.from_array(np.ones(4, np.float32), "one")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y0"]),
             helper.make_node("Relu", ["y0"], ["y1"]), helper.make_node("Add", ["one", "one"], ["two"]),
             helper.make_node("Add", ["y1", "two"], ["y"])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [w, b, one])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_optimised_once_then_loaded_as_is(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "small.onnx"
    small_model(model)
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    plain = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    first = fast_session(model)  # optimises and writes the copy
    cached = optimized_path(model)
    assert cached.is_file()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temp file left behind
    written = cached.stat().st_mtime_ns
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    second = fast_session(model, options)  # loads the copy without optimising
    assert cached.stat().st_mtime_ns == written
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for session in (first, second):
        np.testing.assert_allclose(session.run(None, {"x": x})[0], plain, rtol=1e-6, atol=1e-6)


def test_a_changed_model_gets_a_new_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "small.onnx"
    small_model(model)
    before = optimized_path(model)
    fast_session(model)
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))  # a new model file
    assert optimized_path(model) != before
