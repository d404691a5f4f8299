// Progressive enhancement only: every page works without this file.
// Move focus to the error summary so keyboard and screen-reader users start there.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});
