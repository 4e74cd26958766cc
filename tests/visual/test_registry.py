"""The visual vocabularies are defined once (prodmatch.visual.registry) and the code implementing each word
agrees with it; the registry imports nothing."""

import ast
import inspect

from prodmatch.search import dense
from prodmatch.visual import registry
from prodmatch.visual.categories import CategorySearch, search_with_categories
from prodmatch.visual.exact import ExactIndex
from prodmatch.visual.indexes import INDEX_CLASSES


def test_the_registry_imports_nothing():
    tree = ast.parse(inspect.getsource(registry))
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [(node.module, [a.name for a in node.names]) for node in imports] == [("__future__", ["annotations"])]


def test_each_word_has_its_implementation():
    assert tuple(INDEX_CLASSES) == registry.INDEX_KINDS
    assert registry.BUILD_KINDS == ("auto", *registry.INDEX_KINDS)
    assert set(registry.DEFAULT_COMPARE) <= set(registry.INDEX_KINDS)
    assert set(registry.EXACT_BACKENDS) == set(dense.BACKENDS) - {"numpy"}  # the exact index always has faiss
    for backend in registry.EXACT_BACKENDS:
        assert ExactIndex(backend=backend).params["backend"] == backend
    assert ExactIndex().params["backend"] == registry.DEFAULT_EXACT_BACKEND
    for mode in registry.SEARCH_CATEGORY_MODES:
        assert CategorySearch(mode).mode == mode
    assert CategorySearch().mode == registry.NO_CATEGORY
    assert inspect.signature(search_with_categories).parameters["mode"].default in registry.CATEGORY_MODES
