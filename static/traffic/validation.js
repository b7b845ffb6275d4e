// The validation page: each camera's lines over its snapshot, and a dialog per count (click a
// number) to validate, correct (new value and reason, the camera's number kept) or reject it.
(function () {
  "use strict";
  const lines = JSON.parse(document.getElementById("review-lines").textContent);
  document.querySelectorAll(".traffic-camera[data-camera]").forEach((element) => {
    const svg = element.querySelector(".traffic-overlay");
    if (svg) window.TrafficOverlay.draw(svg, lines[element.dataset.camera] || [], []);
  });

  const modalElement = document.getElementById("count-modal");
  const modal = new bootstrap.Modal(modalElement);
  const STATUS = {
    pending: gettext("pending"), validated: gettext("validated"), corrected: gettext("corrected"), rejected: gettext("rejected"),
  };

  function show(name, value) {
    modalElement.querySelector('[data-show="' + name + '"]').textContent = value || "—";
  }

  document.addEventListener("click", (event) => {
    const cell = event.target.closest(".traffic-cell");
    if (!cell) return;
    const data = cell.dataset;
    modalElement.querySelector("#count-modal-title").textContent = data.label;
    show("status", STATUS[data.status] || data.status);
    show("original", data.original);
    show("value", data.value);
    show("reason", data.reason);
    show("reviewer", data.reviewer);
    const batched = data.batched === "true";
    modalElement.querySelector('[data-show-if="batched"]').hidden = !batched;
    modalElement.querySelector('[data-hide-if="batched"]').hidden = batched;
    modalElement.querySelectorAll("form[data-action-url]").forEach((form) => {
      form.action = form.dataset.actionUrl.replace("/0/", "/" + data.count + "/");
    });
    modalElement.querySelector("#count-validate-form").hidden = data.status === "validated";
    modalElement.querySelector("#count-reject-form").hidden = data.status === "rejected";
    modalElement.querySelector("#correct-count").value = data.value;
    modalElement.querySelector("#correct-reason").value = "";
    modalElement.querySelector("#reject-reason").value = "";
    modal.show();
  });
  modalElement.addEventListener("shown.bs.modal", () => modalElement.querySelector("#correct-count").focus());
})();
