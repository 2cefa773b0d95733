/* itsm service catalog: filter the catalog by category, tag and words. Progressive enhancement only:
   without JavaScript every service is listed by category and the Tags page lists them by tag. */
(function () {
  "use strict";

  function option(select, value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function field(form, labelText, control) {
    var label = document.createElement("label");
    label.textContent = labelText;
    label.appendChild(control);
    form.appendChild(label);
    return control;
  }

  function natural(a, b) {
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }

  // Lower case, and the same with only letters and digits, so "wifi" finds "Wi-Fi" and "wi-fi" finds "wifi".
  function squash(text) { return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ""); }

  function fill(select, allText, values, keep) {
    while (select.firstChild) select.removeChild(select.firstChild);
    option(select, "", allText);
    values.forEach(function (v) { option(select, v, v); });
    select.value = values.indexOf(keep) >= 0 ? keep : "";
  }

  function setup() {
    var box = document.querySelector("[data-itsm-filter]");
    if (!box || box.getAttribute("data-itsm-ready")) return;
    box.setAttribute("data-itsm-ready", "1");
    var tables = Array.prototype.slice.call(document.querySelectorAll("table[data-itsm-category]"));
    if (!tables.length) return;

    // Every row once: its category, tags, and the words the filter matches (name, id, tags, offerings, summary).
    var rows = [];
    tables.forEach(function (t) {
      Array.prototype.forEach.call(t.querySelectorAll("tbody tr"), function (row) {
        var text = ((row.getAttribute("data-itsm-words") || "") + " " + row.textContent).toLowerCase();
        rows.push({row: row, table: t, category: t.getAttribute("data-itsm-category"),
                   tags: (row.getAttribute("data-itsm-tags") || "").split(" ").filter(Boolean),
                   text: text, squashed: squash(text)});
      });
    });

    var form = document.createElement("form");
    form.setAttribute("role", "search");
    form.setAttribute("aria-label", "Filter the catalog");
    form.addEventListener("submit", function (e) { e.preventDefault(); });

    var category = field(form, "Category", document.createElement("select"));
    var tag = field(form, "Tag", document.createElement("select"));
    var words = document.createElement("input");
    words.type = "search";
    words.setAttribute("autocomplete", "off");
    words.setAttribute("aria-describedby", "itsm-filter-hint");
    field(form, "Words", words);
    var hint = document.createElement("span");
    hint.id = "itsm-filter-hint";
    hint.className = "itsm-hint";
    hint.hidden = true;
    hint.textContent = "Matches names, IDs, tags, what can be requested and summaries.";
    form.appendChild(hint);

    var count = document.createElement("output");
    count.setAttribute("aria-live", "polite");
    form.appendChild(count);

    var empty = document.createElement("div");
    empty.className = "itsm-empty";
    empty.hidden = true;
    var emptyText = document.createElement("p");
    var reset = document.createElement("button");
    reset.type = "button";
    reset.textContent = "Show all services";
    empty.appendChild(emptyText);
    empty.appendChild(reset);

    function matches(r, c, g, tokens) {
      if (c && r.category !== c) return false;
      if (g && r.tags.indexOf(g) < 0) return false;
      return tokens.every(function (w) {
        return r.text.indexOf(w) >= 0 || (squash(w) && r.squashed.indexOf(squash(w)) >= 0);
      });
    }

    // Each list offers only what the other leaves: the tags of the chosen category, the categories of the tag.
    function narrow() {
      var c = category.value, g = tag.value, cats = {}, tags = {};
      rows.forEach(function (r) {
        if (!g || r.tags.indexOf(g) >= 0) cats[r.category] = true;
        if (!c || r.category === c) r.tags.forEach(function (x) { tags[x] = true; });
      });
      var catOrder = tables.map(function (t) { return t.getAttribute("data-itsm-category"); });
      fill(category, "All categories", catOrder.filter(function (x) { return cats[x]; }), c);
      fill(tag, "All tags", Object.keys(tags).sort(natural), g);
    }

    function apply(record) {
      narrow();
      var c = category.value, g = tag.value, raw = words.value.trim();
      var tokens = raw.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, perTable = new Map();
      rows.forEach(function (r) {
        var ok = matches(r, c, g, tokens);
        r.row.hidden = !ok;
        if (ok) shown += 1;
        perTable.set(r.table, (perTable.get(r.table) || 0) + (ok ? 1 : 0));
      });
      tables.forEach(function (t) {
        var visible = perTable.get(t) || 0;
        var wrap = t.closest(".md-typeset__scrollwrap") || t;
        wrap.hidden = visible === 0;
        var heading = document.getElementById(t.getAttribute("data-itsm-heading"));
        if (heading) heading.hidden = visible === 0;
      });
      count.textContent = shown + " of " + rows.length + (rows.length === 1 ? " service" : " services");
      empty.hidden = shown > 0;
      emptyText.textContent = "No service matches" + (raw ? " \u201c" + raw + "\u201d" : "") +
        (c ? " in " + c : "") + (g ? " tagged " + g : "") + ".";
      if (record) {
        // The filter is in the address, so a filtered list can be shared, bookmarked and reloaded.
        var params = new URLSearchParams(window.location.search);
        // "words", not "q": the theme opens its own search for a ?q= in the address.
        [["category", c], ["tag", g], ["words", raw]].forEach(function (p) {
          if (p[1]) params.set(p[0], p[1]); else params.delete(p[0]);
        });
        var query = params.toString();
        window.history.replaceState(window.history.state, "",
          window.location.pathname + (query ? "?" + query : "") + window.location.hash);
      }
    }

    reset.addEventListener("click", function () {
      category.value = "";
      tag.value = "";
      words.value = "";
      apply(true);
      words.focus();
    });
    [category, tag].forEach(function (s) { s.addEventListener("change", function () { apply(true); }); });
    words.addEventListener("input", function () { apply(true); });
    box.appendChild(form);
    box.appendChild(empty);

    var initial = new URLSearchParams(window.location.search);
    narrow();
    category.value = initial.get("category") || "";
    narrow();
    tag.value = initial.get("tag") || "";
    words.value = initial.get("words") || "";
    apply(false);
  }

  // A skip link to the catalog, after the theme's own "Skip to content" (the first two tab stops).
  function skipLink() {
    var target = document.getElementById("itsm-catalog");
    if (!target || document.querySelector(".itsm-skip")) return;
    var link = document.createElement("a");
    link.href = "#itsm-catalog";
    link.className = "md-skip itsm-skip";
    link.textContent = "Skip to the service catalog";
    var first = document.querySelector(".md-skip");
    if (first && first.parentNode) first.parentNode.insertBefore(link, first.nextSibling);
    else document.body.insertBefore(link, document.body.firstChild);
  }

  // The theme's search dialog has no accessible name (WCAG 4.1.2).
  function nameDialogs() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-search[role='dialog']"), function (d) {
      if (!d.hasAttribute("aria-label") && !d.hasAttribute("aria-labelledby")) d.setAttribute("aria-label", "Search");
    });
  }

  // A table wider than the screen scrolls inside its own box; a box that scrolls must be reachable by
  // keyboard (WCAG 2.1.1), so it becomes a named tab stop while it overflows, and only then.
  function scrollBoxes() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset__scrollwrap"), function (box) {
      var inner = box.querySelector(".md-typeset__table") || box;
      var table = box.querySelector("table");
      var overflows = box.scrollWidth > box.clientWidth + 1 || inner.scrollWidth > inner.clientWidth + 1 ||
        (table && table.scrollWidth > table.clientWidth + 1);
      if (overflows && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "Table, scrolls sideways");
      } else if (!overflows && box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(scrollBoxes, 150);
  });

  function start() {
    nameDialogs();
    setup();
    skipLink();
    scrollBoxes();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(start);
  } else if (document.readyState !== "loading") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
