// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A token in the address bar would stay in the history and be shown to anyone
  // looking over the shoulder: once the page has it in its form, drop it from the URL.
  if (window.location.search.indexOf("token=") !== -1 && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  // The verification page confirms by itself; without JavaScript its button does.
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.textContent = "Confirming…"; }
    form.submit();
  }
  // One submission per form: a double click does not post twice.
  document.addEventListener("submit", function (event) {
    var target = event.target;
    if (target.dataset.submitted) { event.preventDefault(); return; }
    target.dataset.submitted = "yes";
  });
})();
