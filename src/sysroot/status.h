// bootc's `BootcHost` status document (org.containers.bootc/v1) as plain
// structs, its three renderings (JSON, YAML, human readable) and a JSON
// parser. No I/O: sysroot.cc fills a HostStatus from libostree, the CLI
// prints one of the renderings.
//
// Compatibility: key names, key order, which fields are null and which are
// omitted follow bootc's `spec.rs` (bootc 1.16, serde field order):
//
//   apiVersion, kind, metadata {name}
//   spec   {image: {image, transport} | null, bootOrder}
//   status {staged, booted, rollback, otherDeployments (omitted if empty),
//           rollbackQueued, type: "bootcHost" | null, usrOverlay, readOnly}
//   entry  {image: ImageStatus | null, cachedUpdate: ImageStatus | null,
//           incompatible, pinned, softRebootCapable, downloadOnly,
//           store: "ostreeContainer", ostree: {stateroot, checksum,
//           deploySerial}, composefs: null}
//   ImageStatus {image: {image, transport}, version | null,
//                timestamp | null, imageDigest, architecture}
//
// `status.type` is derived as bootc does: "bootcHost" when the booted entry
// was deployed from a container image, else null. ImageReference.signature
// is "containerPolicy" for images whose origin is ostree-image-signed:
// (installed or switched with --enforce-container-sigpolicy) and omitted
// otherwise, as bootc omits it for unverified images.
//
// Offline sysroots (a --sysroot directory; nothing is booted there): bootc
// has no answer (it prints "System is not deployed via bootc."), so hull
// shows the first deployment of the boot order -- the one that would boot --
// as `booted`, the next as `rollback`, `rollbackQueued` false, and
// `status.type` stays "bootcHost". The document says so in
// `metadata.annotations: {"hull/offline": "true"}` (bootc's ObjectMeta has an
// annotations map, so the document stays valid against host-v1.schema.json);
// the human rendering starts with a line saying so. Online documents carry
// no annotations, exactly like bootc's.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/transport.h"

namespace hull::sysroot {

// An image and how to reach it, in bootc's words.
struct ImageReference {
  std::string image;      // "quay.io/x/y:tag", "/var/lib/img:latest"
  std::string transport;  // "registry", "oci", "oci-archive"
  std::string signature;  // "containerPolicy" (signatures enforced) or "" (omitted)
  friend bool operator==(const ImageReference&, const ImageReference&) = default;
};

// What a deployment was made from.
struct ImageStatus {
  ImageReference image;
  std::string version;       // the image's version label; empty: null
  std::string timestamp;     // RFC 3339 UTC ("2024-08-07T12:00:00Z"); empty: null
  std::string image_digest;  // manifest digest, "sha256:..."
  std::string architecture;  // OCI architecture of the config ("amd64")
  friend bool operator==(const ImageStatus&, const ImageStatus&) = default;
};

struct OstreeStatus {
  std::string checksum;  // the deployed commit
  int deploy_serial = 0;
  std::string stateroot;
  friend bool operator==(const OstreeStatus&, const OstreeStatus&) = default;
};

// One deployment. `store` is always "ostreeContainer" and `composefs`
// always null in the renderings: hull only deploys through libostree.
struct BootEntry {
  std::optional<ImageStatus> image;          // null: not from a container image
  std::optional<ImageStatus> cached_update;  // fetched by `upgrade --check`, not deployed
  bool incompatible = false;                 // origin has changes bootc/hull do not understand
  bool pinned = false;
  bool soft_reboot_capable = false;
  bool download_only = false;  // staged with finalization locked
  OstreeStatus ostree;
  friend bool operator==(const BootEntry&, const BootEntry&) = default;
};

// The state of an overlay on /usr (`ostree admin unlock`).
struct UsrOverlay {
  std::string access_mode;  // "readOnly" or "readWrite"
  std::string persistence;  // "transient" or "persistent"
  friend bool operator==(const UsrOverlay&, const UsrOverlay&) = default;
};

// hull's boot counting, beside bootc's keys (omitted when absent, so a
// document without them is exactly bootc's):
//   status.trial        {checksum, deploySerial, tries, left, armedAt}: the
//                       default deployment is on trial (sysroot/trial.h)
//   status.failedUpdate {image: ImageStatus | null, checksum, deploySerial,
//                        failedAt, boots, reasons: [string]}: a deployment
//                       that failed its trial; GRUB fell back, hull made
//                       the rollback permanent and does not retry it
struct TrialStatus {
  OstreeStatus ostree;
  int tries = 0;
  int left = 0;
  std::string armed_at;
  friend bool operator==(const TrialStatus&, const TrialStatus&) = default;
};

struct FailedUpdate {
  std::optional<ImageStatus> image;
  OstreeStatus ostree;
  std::string failed_at;             // RFC 3339 UTC
  int boots = 0;                     // trial boots it was given
  std::vector<std::string> reasons;  // one line each: failed checks, boots that never got there
  friend bool operator==(const FailedUpdate&, const FailedUpdate&) = default;
};

// The failed update as its own JSON document (the record hull keeps in
// /var/lib/hull/failed-update.json), and back. Throws naming the field.
std::string render_failed_update(const FailedUpdate& f);
FailedUpdate parse_failed_update(std::string_view text);

struct HostStatus {
  std::optional<ImageReference> spec_image;  // what upgrades follow; null if none
  std::string boot_order = "default";        // or "rollback"
  std::optional<BootEntry> staged, booted, rollback;
  std::vector<BootEntry> other_deployments;
  bool rollback_queued = false;
  std::optional<UsrOverlay> usr_overlay;  // booted host only
  bool read_only = false;                 // the physical root cannot be written
  bool offline = false;                   // a --sysroot directory: nothing booted (see above)
  std::optional<TrialStatus> trial;          // hull: the default deployment is on trial
  std::optional<FailedUpdate> failed_update;  // hull: an update that failed to boot
  friend bool operator==(const HostStatus&, const HostStatus&) = default;
};

// "2024-08-07T12:00:00Z": a time as status documents and hull's records write it.
std::string rfc3339(time_t t);

// bootc's {image, transport} for an image name: registry images by their
// full reference, oci:/oci-archive: by "PATH[:NAME]".
// `enforce_signatures` sets signature "containerPolicy".
ImageReference bootc_image_reference(const image::ImageName& name, bool enforce_signatures = false);

// Sets spec_image and boot_order as bootc derives them: the image of the
// staged entry, else of the booted one; "rollback" iff rollback_queued.
void derive_spec(HostStatus& st);

enum class JsonStyle {
  kPretty,     // 2-space indent, bootc's field order, ending in "\n"
  kCanonical,  // compact, keys sorted, no final newline: byte for byte
               // what `bootc status --format json` prints since bootc 1.10
};

// The BootcHost document as JSON. Throws Error if boot_order or a
// usr_overlay value is not one of bootc's names.
std::string render_json(const HostStatus& st, JsonStyle style = JsonStyle::kPretty);

// The BootcHost document as YAML, as serde_yaml 0.9 writes it (bootc's
// `--format yaml`): block style, sequences not indented under their key,
// strings single-quoted only where YAML would read them as something else
// ('1.0', 'true', ''); ends in "\n". One known difference: a string with
// a control character is double-quoted, where serde_yaml writes a string
// containing a newline as a literal block.
std::string render_yaml(const HostStatus& st);

// bootc's `--format humanreadable`:
//     Staged image: quay.io/x/y:2
//           Digest: sha256:... (amd64)
//          Version: 2 (2024-08-07T12:00:00Z)
//
//   ● Booted image: quay.io/x/y:1
//   ...
// Staged, booted, rollback, then other deployments, separated by blank
// lines; "System is not deployed via bootc." when nothing is booted.
// `verbose` adds StateRoot, Deploy serial, Staged, Commit, Soft-reboot and
// (staged only) Download-only rows, as `bootc status --verbose`.
std::string render_human(const HostStatus& st, bool verbose = false);

// The inverse of render_json (either style; also reads bootc's own
// output). Throws Error naming the JSON path of a missing or mistyped
// field ("status.booted.ostree.deploySerial: expected an integer"), and
// refuses image signatures other than "containerPolicy" (and bootc's older
// "insecure", read as none).
HostStatus parse_json(std::string_view text);

}  // namespace hull::sysroot
