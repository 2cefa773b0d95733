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

  function setup() {
    var box = document.querySelector("[data-itsm-filter]");
    if (!box || box.getAttribute("data-itsm-ready")) return;
    box.setAttribute("data-itsm-ready", "1");
    var tables = Array.prototype.slice.call(document.querySelectorAll("table[data-itsm-category]"));
    if (!tables.length) return;

    var form = document.createElement("form");
    form.setAttribute("role", "search");
    form.setAttribute("aria-label", "Filter the catalog");
    form.addEventListener("submit", function (e) { e.preventDefault(); });

    var category = field(form, "Category", document.createElement("select"));
    option(category, "", "All categories");
    tables.forEach(function (t) {
      var name = t.getAttribute("data-itsm-category");
      option(category, name, name);
    });

    var tag = field(form, "Tag", document.createElement("select"));
    option(tag, "", "All tags");
    var tags = {};
    tables.forEach(function (t) {
      Array.prototype.forEach.call(t.querySelectorAll("tr[data-itsm-tags]"), function (row) {
        row.getAttribute("data-itsm-tags").split(" ").forEach(function (x) { if (x) tags[x] = true; });
      });
    });
    Object.keys(tags).sort().forEach(function (x) { option(tag, x, x); });

    var words = document.createElement("input");
    words.type = "search";
    field(form, "Words", words);

    var count = document.createElement("output");
    count.setAttribute("aria-live", "polite");
    form.appendChild(count);

    function apply() {
      var c = category.value, g = tag.value, w = words.value.trim().toLowerCase(), shown = 0;
      tables.forEach(function (t) {
        var visible = 0;
        var inCategory = !c || t.getAttribute("data-itsm-category") === c;
        Array.prototype.forEach.call(t.querySelectorAll("tbody tr"), function (row) {
          var rowTags = " " + row.getAttribute("data-itsm-tags") + " ";
          var ok = inCategory && (!g || rowTags.indexOf(" " + g + " ") >= 0) &&
            (!w || row.textContent.toLowerCase().indexOf(w) >= 0);
          row.hidden = !ok;
          if (ok) visible += 1;
        });
        shown += visible;
        var wrap = t.closest(".md-typeset__scrollwrap") || t;
        wrap.hidden = visible === 0;
        var heading = document.getElementById(t.getAttribute("data-itsm-heading"));
        if (heading) heading.hidden = visible === 0;
      });
      count.textContent = shown + (shown === 1 ? " service" : " services");
    }

    [category, tag].forEach(function (s) { s.addEventListener("change", apply); });
    words.addEventListener("input", apply);
    box.appendChild(form);
    apply();
  }

  // The theme's search dialog has no accessible name (WCAG 4.1.2).
  function nameDialogs() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-search[role='dialog']"), function (d) {
      if (!d.hasAttribute("aria-label") && !d.hasAttribute("aria-labelledby")) d.setAttribute("aria-label", "Search");
    });
  }

  function start() {
    nameDialogs();
    setup();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(start);
  } else if (document.readyState !== "loading") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
