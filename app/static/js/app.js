// Progressive enhancement only: every page works without this file.
// Move focus to the error summary so keyboard and screen-reader users start there.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});

// A "print" button, shown only when scripts run (without them, the browser's own print works).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
