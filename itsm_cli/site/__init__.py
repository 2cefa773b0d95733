"""The published site: pages built from the desk by our own core, handed to an engine by thin adapters.

- :mod:`itsm_cli.site.pages` builds every page as Markdown (plus assets) from the desk;
- :mod:`itsm_cli.site.sanitize` renders people's Markdown and cleans it with nh3, and escapes values;
- :mod:`itsm_cli.site.charts` draws the metrics charts as SVG at build time;
- :mod:`itsm_cli.site.plugin` is the MkDocs plugin (entry point ``itsm``);
- :mod:`itsm_cli.site.build` runs MkDocs, or writes the pages out for Zensical.
"""
