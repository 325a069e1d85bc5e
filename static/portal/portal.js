// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.select-all").forEach((box) => {
    box.addEventListener("change", () => {
      box.closest("table").querySelectorAll("input.row-select").forEach((row) => { row.checked = box.checked; });
    });
  });
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
});
