"""Two fixes for the Jupyter Book 1.0.4 stack pinned in requirements-book.txt; without them every page logs a
JavaScript error (tests/course/test_book.py fails on any).

- Sphinx 7.4 keeps an inline script registered after the builder started twice (once with the file name None,
  once with ""), so sphinx-thebe's ``const THEBE_JS_URL = ...`` is declared twice: "Identifier 'THEBE_JS_URL' has
  already been declared". The duplicate is dropped from each page's scripts.
- pydata-sphinx-theme 0.17 logs "Got invalid theme mode" when ``html_context["default_mode"]`` is not set, which
  sphinx-book-theme does not do: the book uses the light mode (plotly figures have white backgrounds).
"""


def _light_mode(app, config):
    config.html_context.setdefault("default_mode", "light")


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("config-inited", _light_mode)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
