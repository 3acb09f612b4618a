// Keeps the dashboard's queue counts current without reloading the page, and says so when a new
// urgent case arrives. The page works fully without this script.
(function () {
  "use strict";
  var summary = document.getElementById("queue-summary");
  var status = document.getElementById("dashboard-status");
  if (!summary || !status || !window.fetch) { return; }
  var seconds = parseInt(summary.getAttribute("data-poll-seconds"), 10);
  if (!seconds) { return; }
  var url = summary.getAttribute("data-counts-url");
  function shown(key) {
    var element = summary.querySelector('[data-queue="' + key + '"]');
    return element ? parseInt(element.textContent, 10) : 0;
  }
  var urgentOnLoad = shown("urgent");
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        Object.keys(data.counts).forEach(function (key) {
          var element = summary.querySelector('[data-queue="' + key + '"]');
          if (element) { element.textContent = data.counts[key]; }
        });
        if (data.counts.urgent > urgentOnLoad) {
          status.textContent = "A new urgent case has arrived. Reload the page to see it.";
        }
      })
      .catch(function () { /* try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
