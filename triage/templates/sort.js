// Sorts the index table by the clicked column; numbers by data-sort, text otherwise.
document.querySelectorAll("#buckets th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var ascending = !th.classList.contains("sorted-asc");
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.className = ""; });
    th.className = ascending ? "sorted-asc" : "sorted-desc";
    var numeric = th.dataset.type === "num";
    var key = function (row) {
      var cell = row.cells[column];
      var value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
      return numeric ? parseFloat(value) || 0 : value.toLowerCase();
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
