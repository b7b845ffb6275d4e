// Copy buttons: <button data-copy="element-id"> copies that field's value.
document.addEventListener("click", async (event) => {
  "use strict";
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (error) { // not a secure context: select it for Ctrl+C
    field.select();
    document.execCommand("copy");
  }
  const icon = button.querySelector(".bi");
  if (icon) {
    icon.className = "bi bi-check-lg";
    setTimeout(() => { icon.className = "bi bi-clipboard"; }, 2000);
  }
});
