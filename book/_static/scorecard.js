// The Scorecard page (patchlib/scorecard.py), offline: exact filters by verdict, kind and chapter
// (chips and a select; chips of one facet combine with "or", facets with "and"), a free-text search
// beside them, counts that follow the filters, and columns sorted by a click on their heading, with
// an indicator; numbers are sorted only among rows of one unit (rows are grouped by unit first).
// A page address ending in #verdict=not_reproduced (or kind=..., chapter=...) opens filtered.
// Does nothing on pages without a scorecard.
(function () {
  "use strict";
  var FACETS = ["verdict", "kind", "chapter"];

  function setUp(card) {
    var table = card.querySelector("table.scorecard-table");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, index) { row.setAttribute("data-index", String(index)); });
    var chips = Array.prototype.slice.call(card.querySelectorAll(".filter-chip"));
    var select = card.querySelector(".filter-select");
    var search = card.querySelector(".scorecard-search");
    var status = card.querySelector(".scorecard-status");
    Array.prototype.forEach.call(select.options, function (option) {
      option.setAttribute("data-label", option.textContent.replace(/\s*\(\d+\)$/, ""));
    });

    function chosen(facet) {
      if (facet === "chapter") { return select.value ? [select.value] : []; }
      return chips.filter(function (chip) {
        return chip.getAttribute("data-facet") === facet && chip.getAttribute("aria-pressed") === "true";
      }).map(function (chip) { return chip.getAttribute("data-value"); });
    }

    // Whether a row passes every filter but `except` (a facet left out, to count that facet's choices).
    function passes(row, except) {
      for (var i = 0; i < FACETS.length; i++) {
        var facet = FACETS[i];
        if (facet === except) { continue; }
        var values = chosen(facet);
        if (values.length && values.indexOf(row.getAttribute("data-" + facet)) < 0) { return false; }
      }
      var needle = search.value.trim().toLowerCase();
      return !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
    }

    function count(facet, value) {
      return rows.filter(function (row) {
        return row.getAttribute("data-" + facet) === value && passes(row, facet);
      }).length;
    }

    function update() {
      var shown = 0;
      rows.forEach(function (row) {
        var visible = passes(row, null);
        row.style.display = visible ? "" : "none";
        shown += visible ? 1 : 0;
      });
      chips.forEach(function (chip) {
        chip.querySelector(".chip-count").textContent =
          String(count(chip.getAttribute("data-facet"), chip.getAttribute("data-value")));
      });
      Array.prototype.forEach.call(select.options, function (option) {
        var label = option.getAttribute("data-label");
        option.textContent = option.value ? label + " (" + count("chapter", option.value) + ")" : label;
      });
      status.textContent = shown === rows.length ? "Showing all " + rows.length + " claims."
        : "Showing " + shown + " of " + rows.length + " claims.";
    }

    chips.forEach(function (chip) {
      chip.addEventListener("click", function () {
        chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
        update();
      });
    });
    select.addEventListener("change", update);
    search.addEventListener("input", update);
    card.querySelector(".filter-reset").addEventListener("click", function () {
      chips.forEach(function (chip) { chip.setAttribute("aria-pressed", "false"); });
      select.value = "";
      search.value = "";
      update();
    });

    // Sorting: "order" columns by their data-sort rank, "text" alphabetically, "number" by unit and
    // then by value (rows without a number last within their unit); ties keep the generated order.
    var headings = Array.prototype.slice.call(table.tHead.rows[0].cells);
    function key(row, column, type) {
      var cell = row.cells[column];
      if (type === "order") { return [Number(cell.getAttribute("data-sort"))]; }
      if (type === "number") {
        var number = cell.getAttribute("data-number");
        return [row.getAttribute("data-unit") || "", number === "" ? 1 : 0, number === "" ? 0 : Number(number)];
      }
      return [cell.textContent.trim().toLowerCase()];
    }
    function compare(a, b) {
      for (var i = 0; i < a.length; i++) {
        if (a[i] < b[i]) { return -1; }
        if (a[i] > b[i]) { return 1; }
      }
      return 0;
    }
    headings.forEach(function (heading, column) {
      var type = heading.getAttribute("data-sort-type");
      var button = heading.querySelector("button.sort");
      if (!type || !button) { return; }
      button.addEventListener("click", function () {
        var ascending = heading.getAttribute("aria-sort") !== "ascending";
        headings.forEach(function (other) {
          if (other.hasAttribute("aria-sort")) { other.setAttribute("aria-sort", "none"); }
        });
        heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var sorted = rows.slice().sort(function (a, b) {
          var order = compare(key(a, column, type), key(b, column, type));
          if (type === "number" && order !== 0 && (a.getAttribute("data-unit") || "") !== (b.getAttribute("data-unit") || "")) {
            return order;  // units stay grouped in the same order both ways
          }
          order = ascending ? order : -order;
          return order || Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index"));
        });
        sorted.forEach(function (row) { body.appendChild(row); });
      });
    });

    // #verdict=not_reproduced&kind=paper&chapter=vit selects those filters on load.
    var wanted = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts.length === 2 && FACETS.indexOf(parts[0]) >= 0) { wanted[parts[0]] = decodeURIComponent(parts[1]); }
    });
    chips.forEach(function (chip) {
      if (wanted[chip.getAttribute("data-facet")] === chip.getAttribute("data-value")) {
        chip.setAttribute("aria-pressed", "true");
      }
    });
    if (wanted.chapter) { select.value = wanted.chapter; }
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".scorecard"), setUp);
  });
}());
