import type { UploadForm } from "@caas/gen/caas/media/v1/media_pb.js";

/** POSTs `bytes` with an upload form the way a browser does: every field in order, the file last. */
export async function postForm(form: UploadForm, bytes: Uint8Array, fileType = "application/octet-stream"): Promise<Response> {
  const body = new FormData();
  for (const f of form.fields) body.append(f.name, f.value);
  body.append(form.fileField, new Blob([bytes], { type: fileType }), "upload.bin");
  return fetch(form.url, { method: form.method, body });
}

/** Reads a Response body to bytes. */
export async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}
