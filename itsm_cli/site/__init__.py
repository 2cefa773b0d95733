"""The published site: pages built from the desk by our own core, handed to an engine by thin adapters.

- :mod:`itsm_cli.site.content` reads the desk's records once (:func:`~itsm_cli.site.content.load_content`);
- :mod:`itsm_cli.site.pages` builds every page as Markdown (plus assets) from that content, through one
  :class:`~itsm_cli.site.builder.Builder` (the checked content and shared helpers) and a module per kind of
  page: :mod:`~itsm_cli.site.catalog_pages`, :mod:`~itsm_cli.site.kb_pages`,
  :mod:`~itsm_cli.site.status_pages` (from :mod:`~itsm_cli.site.status_model`), :mod:`~itsm_cli.site.metrics_pages`;
- :mod:`itsm_cli.site.links` works out URLs and links between the pages;
- :mod:`itsm_cli.site.sanitize` renders people's Markdown and cleans it with nh3, and escapes values;
- :mod:`itsm_cli.site.charts` draws the metrics charts as SVG at build time;
- :mod:`itsm_cli.site.plugin` is the MkDocs plugin (entry point ``itsm``);
- :mod:`itsm_cli.site.build` runs MkDocs, or writes the pages out for Zensical.
"""
