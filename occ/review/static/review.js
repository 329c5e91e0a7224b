// The only script: a "select all" box for bulk actions. Everything works without it.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll('#bulk input[name="id"]')) box.checked = all.checked;
  });
});
