import re

from django.conf import settings


def test_every_environment_variable_is_documented_in_the_readme():
    code = (settings.BASE_DIR / "flowsuite" / "settings.py").read_text()
    variables = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', code))
    readme = (settings.BASE_DIR / "README.md").read_text()
    assert len(variables) > 20
    assert sorted(v for v in variables if f"`{v}`" not in readme) == []
