// doorward console: keep a table body fresh. Every element with data-refresh names a console
// URL whose answer is that element's rows, rendered (and escaped) by the server; it is fetched
// once a second while the page is visible and nobody is typing in it. A signed-out session goes back to the sign-in page.
"use strict";
(function () {
  var PERIOD_MS = 1000;
  function busy(element) {
    // Someone is typing in the table (an acknowledgement's comment): leave it alone.
    if (element.contains(document.activeElement)) { return true; }
    return Array.prototype.some.call(element.querySelectorAll("input:not([type=hidden])"),
      function (input) { return input.value !== ""; });
  }
  function refresh(element) {
    if (document.hidden || busy(element)) { return; }
    fetch(element.getAttribute("data-refresh"), {credentials: "same-origin", cache: "no-store"})
      .then(function (answer) {
        if (answer.status === 401) { window.location.assign("/console/login"); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (rows) { if (rows !== null) { element.innerHTML = rows; } })
      .catch(function () { /* the next tick tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(function (element) {
      window.setInterval(function () { refresh(element); }, PERIOD_MS);
    });
  });
})();
