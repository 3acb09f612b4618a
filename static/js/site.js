// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Move focus to the error summary, and let its links land on the field itself.
  function errorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      (target.closest("fieldset") || target.closest(".field") || target).scrollIntoView();
      target.focus({ preventScroll: true });
    });
  }

  // Narrow the hospital list to the chosen district without a round trip.
  function facilities() {
    var data = document.getElementById("facilities-data");
    var district = document.querySelector("[data-district-select]");
    var facility = document.querySelector("[data-facility-select]");
    if (!data || !district || !facility) return;
    var byDistrict = JSON.parse(data.textContent);
    var refresh = document.querySelector("[data-refresh-facilities]");
    if (refresh) refresh.hidden = true;
    district.addEventListener("change", function () {
      facility.replaceChildren(facility.options[0]);
      (byDistrict[district.value] || []).forEach(function (pair) {
        facility.add(new Option(pair[1], pair[0]));
      });
    });
  }

  // Hide a follow-up question while the answer it depends on makes it irrelevant.
  function followUps() {
    document.querySelectorAll("[data-reveal-name]").forEach(function (block) {
      var name = block.getAttribute("data-reveal-name");
      var hideFor = block.getAttribute("data-reveal-unless");
      var inputs = document.querySelectorAll("input[name='" + name + "']");
      function update() {
        var chosen = document.querySelector("input[name='" + name + "']:checked");
        block.hidden = !chosen || chosen.value === hideFor;
      }
      inputs.forEach(function (input) { input.addEventListener("change", update); });
      update();
    });
  }

  errorSummary();
  facilities();
  followUps();
})();
