//! Out-of-process channels: an executable `kez-channel-<name>` speaking the JSON-lines
//! protocol of docs/CHANNEL-PLUGINS.md over stdin and stdout (SPEC.md §11.1).
