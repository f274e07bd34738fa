"""The README's conventions table is what running the code gives today."""
from pathlib import Path

from pooling_xfw import conventions

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_conventions_table_is_generated_and_current(pool):
    text = conventions.markdown(conventions.measure(pool=pool))
    content = README.read_text()
    start = content.index(conventions.README_START) + len(conventions.README_START)
    block = content[start:content.index(conventions.README_END)].strip()
    assert block == text.strip(), "run: pooling-xfw conventions --update-readme"


def test_table_shows_the_known_divergences(pool):
    rows = dict((p.name, r) for p, r in conventions.measure(pool=pool))
    nan = rows["NaN in a max window"]
    assert nan["pytorch"].status == "agree"
    assert {b for b, r in nan.items() if r.status == "differ"} == {"mxnet", "tensorflow", "paddle"}
