// The landing page's scorecard (patchlib/scorecard.py): click a column heading to sort by it,
// type in the box to keep the rows that contain the text. Does nothing on pages without one.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".scorecard").forEach(function (card) {
    var table = card.querySelector("table.scorecard-table");
    var body = table.tBodies[0];
    var filter = card.querySelector("input.scorecard-filter");
    filter.addEventListener("input", function () {
      var needle = filter.value.toLowerCase();
      Array.prototype.forEach.call(body.rows, function (row) {
        row.style.display = row.textContent.toLowerCase().indexOf(needle) >= 0 ? "" : "none";
      });
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, column) {
      cell.style.cursor = "pointer";
      cell.addEventListener("click", function () {
        var ascending = cell.getAttribute("data-order") !== "ascending";
        cell.setAttribute("data-order", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
});
