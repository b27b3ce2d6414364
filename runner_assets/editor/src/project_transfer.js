// Export the open project as a zip (a download) and import one as a new local project, from the project panel.
// The archive format and every check on an imported archive are in project_zip.js.
import { notice } from "./notice.js";
import { listProjects } from "./projects.js";
import { ProjectZipError, checkArchiveSize, readProjectZip, writeProjectZip } from "./project_zip.js";

// A file name for the download from the project's name: "My plot!" -> "My-plot.zip".
export const zipName = (name) => `${name.replace(/[^\w.-]+/g, "-").replace(/^[-.]+|-+$/g, "").slice(0, 60) || "project"}.zip`;

// state: the editor's state; sync(): pulls the editor's inputs into it; workspace: workspace.js's.
export function wireProjectTransfer({ $, state, sync, workspace }) {
  async function exportZip() {
    sync();
    await workspace.flush();
    const { name } = workspace.project();
    let bytes;
    try {
      bytes = writeProjectZip({ name, files: state.files, main: state.main, requirements: state.requirements,
                                runtime: state.runtime });
    } catch (err) {
      notice(`Not exported: ${err.message}.`, { error: true });
      return;
    }
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: zipName(name) });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    notice(`Exported "${name}" as ${link.download} (${Object.keys(state.files).length} files).`);
  }

  async function importZip(file) {
    let project;
    try {
      checkArchiveSize(file.size);
      project = readProjectZip(new Uint8Array(await file.arrayBuffer()));
    } catch (err) {
      if (!(err instanceof ProjectZipError)) throw err;
      notice(err.message, { error: true });
      return;
    }
    let name = project.name ?? (file.name.replace(/\.zip$/i, "").slice(0, 100) || "imported");
    const taken = new Set((await listProjects().catch(() => [])).map((p) => p.name));
    if (taken.has(name)) name = `${name} (imported)`.slice(0, 100);
    await workspace.openNew({ ...project, name });
    const count = Object.keys(project.files).length;
    notice(`Imported "${name}": ${count} file${count === 1 ? "" : "s"}, a new project in this browser.`);
  }

  $("export-zip").onclick = exportZip;
  $("import-zip").onclick = () => $("import-zip-file").click();
  $("import-zip-file").onchange = async (event) => {
    const [file] = event.target.files;
    event.target.value = ""; // the same file chosen again is imported again
    if (file) await importZip(file);
  };
  return { exportZip, importZip };
}
