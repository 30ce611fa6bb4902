"""String kernels (StringConcat, StringNormalizer, StringSplit, RegexFullMatch,
TfIdfVectorizer) against onnxruntime, whose RegexFullMatch is RE2 itself.

Each table row is one single-node model; it runs through ``onyx.backend`` and through
onnxruntime (``onnx.reference`` where a row says so) and the outputs must match in dtype,
shape and value. Bad inputs must raise an ``OnyxError`` naming the op.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import onyx.backend
from onyx.ir.errors import OnyxError, UnsupportedOpError

rng = np.random.default_rng(0)


def strs(*values, shape=None):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape if shape is not None else (len(values),))


def make_model(op, inputs, attrs, opset, n_out=1):
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype),
                                                  x.shape) for n, x in zip(names, inputs)]
    outputs = [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_out)]
    graph = helper.make_graph([node], op.lower(), graph_inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_oracle(model, inputs, oracle):
    feeds = {f"x{i}": x for i, x in enumerate(inputs)}
    if oracle == "ref":
        return ReferenceEvaluator(model).run(None, feeds)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_onyx(model, inputs):
    return onyx.backend.prepare(model).run(list(inputs))


def assert_same(ours, ref):
    ref = np.asarray(ref)
    if ref.dtype.kind == "U":
        ref = ref.astype(object)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f":
        np.testing.assert_allclose(ours, ref, rtol=1e-6)
    else:
        assert ours.tolist() == ref.tolist()


def case(name, op, inputs, opset=20, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


WORDS = strs("Monday", "tuesday", "WEDNESDAY", "Thursday", "monday", "Été")
ASCII_WORDS = WORDS[:5]  # onnx.reference strips accents when it changes case
TEXTS = strs("abc", "ABC", "a\n", "a", "é", "É", "1", "١", " ", "\t", "ab12", "a b", "aB", "\n",
             "", "x\ny", "a{2}", "[]", "a.b", "ñ", "Ab", "www.google.com", "x@gmail.com")
REGEXES = [r"\w+", r"\d", r"\s", r"\S+", r"\W", r"a$", r"a\z", r"(?i)abc", r"a(?i)b",
           r"a(?i)b|c", r"(?i:a)b", r"[[:alpha:]]+", r"[[:^alpha:]]+", r"[\w\s]+", r"[^\d]+",
           r"\bab\b", r"\Qa.b\E", r"a\x{62}", r"\141", r"\x61", r"(?P<n>a)b", r"(?<n>a)b",
           r"a{2}", r"a\{2\}", r"[]a]", r"[a-]+", r"(?s)x.y", r"x.y", r"(?m)x$\ny", r"x$\ny",
           r"[[:word:]]+", r"(?i)[[:upper:]]+", r"(?i)é", r"\d+\.\d*", r"(a|b)*c?",
           r"(?i)a(?-i)b", r".*", r"[\d-z]+", r"www\.[\w.-]+\.\bcom\b",
           r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)"]
POOL = dict(min_gram_length=1, max_gram_length=2, max_skip_count=2, ngram_counts=[0, 3],
            pool_int64s=[1, 2, 3, 1, 2, 2, 1], ngram_indexes=[4, 0, 3, 1, 2])

CASES = [
    case("concat_same_shape", "StringConcat", [strs("a", "bc"), strs("x", "")]),
    case("concat_broadcast", "StringConcat", [strs("a", "b", "c", shape=(3, 1)),
                                              strs("1", "2")]),
    case("concat_scalar", "StringConcat", [strs("ab", shape=()), strs("é", "ü")]),
    case("concat_empty", "StringConcat", [strs(shape=(0, 2)), strs("x", "y")]),
    case("normalizer_noop", "StringNormalizer", [WORDS], opset=10, is_case_sensitive=1),
    case("normalizer_stop_sensitive", "StringNormalizer", [WORDS], opset=10,
         is_case_sensitive=1, stopwords=["monday", "ÉTÉ"]),
    case("normalizer_upper", "StringNormalizer", [ASCII_WORDS], opset=10, oracle="ref",
         case_change_action="UPPER", stopwords=["thursday"]),
    case("normalizer_lower_2d", "StringNormalizer", [ASCII_WORDS.reshape(1, -1)], opset=10,
         oracle="ref", case_change_action="LOWER", is_case_sensitive=1, stopwords=["Monday"]),
    case("split_delimiter", "StringSplit", [strs("a.b.c", "a..b", ".x.")], n_out=2,
         delimiter="."),
    case("split_long_delimiter", "StringSplit", [strs("a--b--", "--", "ab")], n_out=2,
         delimiter="--"),
    case("split_maxsplit", "StringSplit", [strs("a.b.c", "a..b", shape=(1, 2))], n_out=2,
         delimiter=".", maxsplit=1),
    case("split_maxsplit_zero", "StringSplit", [strs("a.b.c")], n_out=2, delimiter=".",
         maxsplit=0),
    case("split_whitespace", "StringSplit", [strs("  hello   world ", "one", "a b c d")],
         n_out=2),
    case("split_whitespace_maxsplit", "StringSplit", [strs(" a b  c d ", "x y")], n_out=2,
         maxsplit=2),
    case("split_scalar", "StringSplit", [strs("a b", shape=())], n_out=2),
    case("split_empty", "StringSplit", [strs(shape=(2, 0))], n_out=2),
    *[case(f"regex_{i}", "RegexFullMatch", [TEXTS], pattern=p) for i, p in enumerate(REGEXES)],
    case("regex_2d", "RegexFullMatch", [TEXTS[:6].reshape(2, 3)], pattern="[a-z]+"),
    case("regex_empty", "RegexFullMatch", [strs(shape=(2, 0))], pattern="a"),
    case("tfidf_tf_1d", "TfIdfVectorizer", [np.array([1, 2, 1, 2, 3, 9], np.int64)], opset=9,
         mode="TF", **POOL),
    case("tfidf_tf_2d_int32", "TfIdfVectorizer", [np.array([[1, 2, 1, 2, 3], [3, 3, 1, 2, 2]],
                                                           np.int32)], opset=9, mode="TF",
         **POOL),
    case("tfidf_idf", "TfIdfVectorizer", [np.array([[1, 2, 1, 2, 3], [3, 3, 1, 2, 2]])],
         opset=9, mode="IDF", weights=[1.0, 10.0, 100.0, 1000.0, 10000.0], **POOL),
    case("tfidf_tfidf", "TfIdfVectorizer", [np.array([[1, 2, 1, 2, 3], [3, 3, 1, 2, 2]])],
         opset=9, mode="TFIDF", weights=[0.5, 2.0, 3.0, 4.0, 5.0], **POOL),
    case("tfidf_shared_coordinates", "TfIdfVectorizer", [np.array([1, 2, 1, 2, 3, 1, 2])],
         opset=9, mode="TF", **{**POOL, "ngram_indexes": [0, 0, 1, 1, 2]}),
    case("tfidf_bigrams_only", "TfIdfVectorizer", [np.array([1, 2, 2, 1, 1, 2])], opset=9,
         mode="TF", **{**POOL, "min_gram_length": 2, "max_skip_count": 0}),
    case("tfidf_strings_trigrams", "TfIdfVectorizer",
         [strs("a", "b", "c", "a", "b", "c", "x", "a", "b")], opset=9, mode="TF",
         min_gram_length=1, max_gram_length=3, max_skip_count=1, ngram_counts=[0, 2, 4],
         pool_strings=["a", "c", "a", "b", "a", "b", "c"], ngram_indexes=[0, 1, 2, 3]),
    case("tfidf_empty_rows", "TfIdfVectorizer", [np.zeros((2, 0), np.int64)], opset=9,
         mode="TF", **POOL),
    case("tfidf_short_rows", "TfIdfVectorizer", [np.array([[1], [2]])], opset=9, mode="TF",
         **POOL),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", CASES)
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = run_onyx(model, inputs)
    refs = run_oracle(model, inputs, oracle)
    for o, r in zip(ours, refs):
        assert_same(o, r)


def run_one(op, x, opset=20, n_out=1, **attrs):
    return run_onyx(make_model(op, [x], attrs, opset, n_out), [x])


def test_split_follows_python_where_onnxruntime_differs():
    # ONNX's "whitespace" is every whitespace character (onnxruntime splits on ' ' only), and
    # an empty string is one empty substring (onnxruntime counts 0)
    y, z = run_one("StringSplit", strs("a\tb\nc", "", "x"), n_out=2, delimiter="")
    assert y.tolist() == [["a", "b", "c"], ["", "", ""], ["x", "", ""]]
    assert z.tolist() == [3, 0, 1]
    y, z = run_one("StringSplit", strs("", "a"), n_out=2, delimiter=".")
    assert z.tolist() == [1, 1]


def test_normalizer_keeps_length_changing_case_maps():
    (y,) = run_one("StringNormalizer", strs("straße", "ǆ", "été"), opset=10,
                   case_change_action="UPPER")
    assert y.tolist() == ["STRAßE", "Ǆ", "ÉTÉ"]


# Without case, stop words need the en_US.UTF-8 locale in onnxruntime (absent here), and
# onnx.reference strips accents: these expectations are written out.
@pytest.mark.parametrize("x,stopwords,expected", [
    (WORDS.reshape(1, -1), ["monday", "été"], [["tuesday", "WEDNESDAY", "Thursday"]]),
    (strs("ÉTÉ", "Été", "hiver"), ["été"], ["hiver"]),
    (strs("a", "A", shape=(1, 2)), ["a"], [[""]]),
    (strs("a", "A"), ["A"], [""]),
])
def test_normalizer_case_insensitive_stop_words(x, stopwords, expected):
    (y,) = run_one("StringNormalizer", x, opset=10, stopwords=stopwords)
    assert y.tolist() == expected


def test_normalizer_empty_input_stays_empty():
    (y,) = run_one("StringNormalizer", strs(), opset=10)
    assert y.shape == (0,)


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<=a)b", r"a*+", r"a{1001}",
                                     r"\Z", r"(?#c)a", r"(?>a)", "a)", "(a", "[a"])
def test_regex_rejects_what_re2_rejects(pattern):
    with pytest.raises(OnyxError, match="RegexFullMatch"):
        run_one("RegexFullMatch", strs("a"), pattern=pattern)


@pytest.mark.parametrize("pattern", [r"\pL", r"\p{Greek}", r"(?U)a+", r"\C"])
def test_regex_reports_re2_features_it_lacks(pattern):
    with pytest.raises(UnsupportedOpError, match="RegexFullMatch"):
        run_one("RegexFullMatch", strs("a"), pattern=pattern)


BAD = [
    case("concat_no_broadcast", "StringConcat", [strs("a", "b"), strs("x", "y", "z")]),
    case("concat_numbers", "StringConcat", [np.zeros(2, np.float32), strs("x", "y")]),
    case("normalizer_2d", "StringNormalizer", [strs("a", "b", "c", "d", shape=(2, 2))],
         opset=10),
    case("normalizer_bad_action", "StringNormalizer", [strs("a")], opset=10,
         case_change_action="TITLE"),
    case("split_numbers", "StringSplit", [np.zeros(2, np.int64)], n_out=2),
    case("tfidf_3d", "TfIdfVectorizer", [np.zeros((1, 2, 3), np.int64)], opset=9, mode="TF",
         **POOL),
    case("tfidf_bad_mode", "TfIdfVectorizer", [np.zeros(3, np.int64)], opset=9, mode="BM25",
         **POOL),
    case("tfidf_bad_counts", "TfIdfVectorizer", [np.zeros(3, np.int64)], opset=9, mode="TF",
         **{**POOL, "ngram_counts": [0, 2]}),
    case("tfidf_strings_for_int_pool", "TfIdfVectorizer", [strs("a")], opset=9, mode="TF",
         **POOL),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        run_onyx(model, inputs)
