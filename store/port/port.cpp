#include "store/port/port.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>

#include "store/log/sync_io.h"

namespace store::port {
namespace {

constexpr std::pair<char, std::uint32_t> maildir_flags[] = {{'D', message_flag::draft},
                                                            {'F', message_flag::flagged},
                                                            {'R', message_flag::answered},
                                                            {'S', message_flag::seen},
                                                            {'T', message_flag::deleted}};
constexpr const char* forwarded_keyword = "$Forwarded";

// Converts bare LF to CRLF as bytes stream through; remembers a CR that ended
// the previous piece so a CRLF split across pieces is not doubled.
struct crlf_writer {
  message_store& store;
  blob_writer& writer;
  bool last_cr = false;
  std::string scratch;
  kio::result<void, errc> put(std::string_view piece) {
    scratch.clear();
    for (char c : piece) {
      if (c == '\n' && !last_cr) scratch.push_back('\r');
      scratch.push_back(c);
      last_cr = c == '\r';
    }
    return store.append_chunk(writer, scratch);
  }
};

std::string to_lf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string> read_keyword_table(const std::string& maildir) {
  std::vector<std::string> table(26);
  std::ifstream in(maildir + "/dovecot-keywords");
  std::string line;
  while (std::getline(in, line)) {
    unsigned n = 0;
    char name[300];
    if (std::sscanf(line.c_str(), "%u %299s", &n, name) == 2 && n < 26) table[n] = name;
  }
  return table;
}

// Batches messages: blobs first, one flush, then deliveries, one flush.
struct importer {
  message_store& store;
  account_id account;
  mailbox_id mailbox;
  const import_options& options;
  import_report report;
  struct pending {
    stored_blob blob;
    std::int64_t date_ms;
    std::uint32_t flags;
    std::vector<std::string> keywords;
  };
  std::vector<pending> batch;

  kio::result<void, errc> add(stored_blob blob, std::int64_t date_ms, std::uint32_t flags,
                              std::vector<std::string> keywords) {
    batch.push_back({blob, date_ms, flags, std::move(keywords)});
    report.messages += 1;
    report.bytes += blob.size;
    if (batch.size() >= options.batch_messages) return commit();
    return {};
  }
  kio::result<void, errc> commit() {
    if (batch.empty()) return {};
    if (auto r = store.flush_all(); !r) return r;
    for (auto& p : batch) {
      delivery_request q;
      q.account = account;
      q.mailbox = mailbox;
      q.key = p.blob.key;
      q.internal_date_ms = p.date_ms;
      q.flags = p.flags;
      q.keywords = std::move(p.keywords);
      q.ignore_quota = options.ignore_quota;
      auto d = store.append_delivery(q);
      if (!d) return kio::fail(d.error());
    }
    batch.clear();
    return store.flush_all();
  }
};

}  // namespace

maildir_info parse_maildir_name(std::string_view name, const std::vector<std::string>& table) {
  maildir_info info;
  std::size_t at = std::string_view::npos;
  for (const char* sep : {":2,", "!2,", ";2,"}) {
    const auto p = name.rfind(sep);
    if (p != std::string_view::npos && (at == std::string_view::npos || p > at)) at = p;
  }
  if (at == std::string_view::npos) return info;
  for (char c : name.substr(at + 3)) {
    for (auto [letter, flag] : maildir_flags)
      if (c == letter) info.flags |= flag;
    if (c == 'P') info.keywords.push_back(forwarded_keyword);
    if (c >= 'a' && c <= 'z' && static_cast<std::size_t>(c - 'a') < table.size() && !table[c - 'a'].empty())
      info.keywords.push_back(table[c - 'a']);
  }
  std::sort(info.keywords.begin(), info.keywords.end());
  info.keywords.erase(std::unique(info.keywords.begin(), info.keywords.end()), info.keywords.end());
  return info;
}

std::string maildir_flag_suffix(std::uint32_t flags, const std::vector<std::string>& keywords,
                                std::vector<std::string>& table) {
  // Maildir wants the letters in ASCII order: uppercase flags, then keywords.
  std::string letters;
  for (auto [letter, flag] : maildir_flags)
    if (flags & flag) letters.push_back(letter);
  if (std::find(keywords.begin(), keywords.end(), forwarded_keyword) != keywords.end()) letters.push_back('P');
  for (const auto& k : keywords) {
    if (k == forwarded_keyword) continue;
    auto it = std::find(table.begin(), table.end(), k);
    if (it == table.end()) {
      if (table.size() >= 26) continue;  // Dovecot's limit: 26 keyword letters per folder
      table.push_back(k);
      it = table.end() - 1;
    }
    letters.push_back(static_cast<char>('a' + (it - table.begin())));
  }
  std::sort(letters.begin(), letters.end());
  return ":2," + letters;
}

bool parse_asctime(std::string_view text, std::int64_t& ms) {
  std::tm tm{};
  const std::string s(text);
  const char* end = ::strptime(s.c_str(), "%a %b %d %H:%M:%S %Y", &tm);
  if (!end) return false;
  ms = static_cast<std::int64_t>(::timegm(&tm)) * 1000;
  return true;
}

std::string format_asctime(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

kio::result<import_report, errc> import_maildir(message_store& store, account_id account, mailbox_id mailbox,
                                                const std::string& maildir, const import_options& options) {
  const auto table = read_keyword_table(maildir);
  importer imp{store, account, mailbox, options, {}, {}};
  const core_id core = store.owner_of(account);
  for (const char* sub : {"cur", "new"}) {
    const std::string dir = maildir + "/" + sub;
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> names;
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    // Maildir names start with the delivery time: sorting keeps the order.
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      const std::string path = dir + "/" + name;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st{};
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        imp.report.skipped++;
        imp.report.problems.push_back(path + ": " + std::strerror(errno));
        continue;
      }
      auto w = store.begin_blob(core);
      crlf_writer out{store, w};
      char buf[64 << 10];
      bool ok = true;
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ok = n == 0;
          break;
        }
        if (auto r = out.put(std::string_view(buf, static_cast<std::size_t>(n))); !r) {
          if (r.error() != errc::too_large) {
            ::close(fd);
            return kio::fail(r.error());
          }
          ok = false;
          break;
        }
      }
      ::close(fd);
      if (!ok) {
        imp.report.skipped++;
        imp.report.problems.push_back(path + ": unreadable or larger than the blob size limit");
        continue;
      }
      auto blob = store.finish_blob(w);
      if (!blob) return kio::fail(blob.error());
      const auto info = parse_maildir_name(name, table);
      const std::int64_t date_ms =
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
      if (auto r = imp.add(*blob, date_ms, info.flags, info.keywords); !r) return kio::fail(r.error());
    }
  }
  if (auto r = imp.commit(); !r) return kio::fail(r.error());
  return imp.report;
}

kio::result<std::uint64_t, errc> export_maildir(const message_store& store, account_id account, mailbox_id mailbox,
                                                const std::string& maildir) {
  const auto* box = store.mailbox(account, mailbox);
  if (!box) return kio::fail(errc::unknown_mailbox);
  for (const char* sub : {"", "/cur", "/new", "/tmp"})
    if (::mkdir((maildir + sub).c_str(), 0750) != 0 && errno != EEXIST) return kio::fail(errc_from_errno(errno));
  std::vector<std::string> table = read_keyword_table(maildir);
  while (!table.empty() && table.back().empty()) table.pop_back();
  std::uint64_t count = 0;
  for (const auto& [uid, m] : box->messages) {
    auto bytes = store.read_message(account, mailbox, uid);
    if (!bytes) return kio::fail(bytes.error());
    const std::string body = to_lf(*bytes);
    char base[128];
    std::snprintf(base, sizeof base, "%lld.M%uP%d.ringmail,S=%zu", static_cast<long long>(m.internal_date_ms / 1000),
                  uid, static_cast<int>(::getpid()), body.size());
    const std::string temp = maildir + "/tmp/" + base;
    const std::string final_path = maildir + "/cur/" + base + maildir_flag_suffix(m.flags, m.keywords, table);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return kio::fail(errc_from_errno(errno));
    auto w = log::pwrite_all(fd, body, 0);
    const timespec times[2] = {{m.internal_date_ms / 1000, (m.internal_date_ms % 1000) * 1000000},
                               {m.internal_date_ms / 1000, (m.internal_date_ms % 1000) * 1000000}};
    ::futimens(fd, times);
    const int rc = w ? ::fsync(fd) : -1;
    ::close(fd);
    if (!w) return kio::fail(w.error());
    if (rc != 0 || ::rename(temp.c_str(), final_path.c_str()) != 0) return kio::fail(errc_from_errno(errno));
    ++count;
  }
  std::FILE* kw = std::fopen((maildir + "/dovecot-keywords").c_str(), "w");
  if (!kw) return kio::fail(errc_from_errno(errno));
  for (std::size_t i = 0; i < table.size(); ++i)
    if (!table[i].empty()) std::fprintf(kw, "%zu %s\n", i, table[i].c_str());
  std::fclose(kw);
  return count;
}

namespace {

bool is_from_line(std::string_view line) { return line.substr(0, 5) == "From "; }

// ">From " (any number of '>') loses one '>' on import (mboxrd).
bool is_quoted_from(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == '>') ++i;
  return i > 0 && line.substr(i, 5) == "From ";
}

std::string header_name_lower(std::string_view line) {
  const auto colon = line.find(':');
  std::string n(line.substr(0, colon == std::string_view::npos ? 0 : colon));
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

}  // namespace

kio::result<import_report, errc> import_mbox(message_store& store, account_id account, mailbox_id mailbox,
                                             const std::string& mbox_path, const import_options& options) {
  std::ifstream in(mbox_path, std::ios::binary);
  if (!in) return kio::fail(errc::not_found);
  importer imp{store, account, mailbox, options, {}, {}};
  const core_id core = store.owner_of(account);
  std::optional<blob_writer> w;
  std::optional<crlf_writer> out;
  bool in_headers = false, oversized = false;
  std::string headers;
  std::int64_t date_ms = 0;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  // The blank line before a "From " separator belongs to the format, not to
  // the message: hold one back until we know what follows.
  bool held_blank = false;

  auto put = [&](std::string_view s) -> kio::result<void, errc> {
    if (oversized) return {};
    auto r = out->put(s);
    if (!r && r.error() == errc::too_large) {
      oversized = true;
      return {};
    }
    return r;
  };
  auto finish = [&]() -> kio::result<void, errc> {
    if (!w) return {};
    if (in_headers) {  // a message with headers only
      if (auto r = put(headers); !r) return r;
    }
    if (oversized) {
      imp.report.skipped++;
      imp.report.problems.push_back("message dated " + format_asctime(date_ms) + " larger than the blob size limit");
    } else {
      auto blob = store.finish_blob(*w);
      if (!blob) return kio::fail(blob.error());
      if (auto r = imp.add(*blob, date_ms, flags, keywords); !r) return r;
    }
    out.reset();
    w.reset();
    return {};
  };

  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_from_line(line) && (held_blank || !w)) {
      held_blank = false;
      if (auto r = finish(); !r) return kio::fail(r.error());
      // "From sender date": the date is the last 24 characters.
      date_ms = 0;
      if (line.size() >= 24) (void)parse_asctime(std::string_view(line).substr(line.size() - 24), date_ms);
      w.emplace(store.begin_blob(core));
      out.emplace(crlf_writer{store, *w});
      in_headers = true;
      oversized = false;
      headers.clear();
      flags = 0;
      keywords.clear();
      continue;
    }
    if (!w) continue;  // text before the first separator is not a message
    if (held_blank) {
      if (auto r = put("\n"); !r) return kio::fail(r.error());
      held_blank = false;
    }
    if (in_headers) {
      if (line.empty()) {
        in_headers = false;
        headers += "\n";
        if (auto r = put(headers); !r) return kio::fail(r.error());
        headers.clear();
        continue;
      }
      const std::string name = header_name_lower(line);
      if (name == "status") {
        if (line.find('R', 7) != std::string::npos) flags |= message_flag::seen;
        continue;
      }
      if (name == "x-status") {
        for (char c : line.substr(9)) {
          if (c == 'A') flags |= message_flag::answered;
          if (c == 'F') flags |= message_flag::flagged;
          if (c == 'T') flags |= message_flag::draft;
          if (c == 'D') flags |= message_flag::deleted;
        }
        continue;
      }
      if (name == "x-keywords") {
        std::string rest = line.substr(11);
        for (auto& c : rest)
          if (c == ',') c = ' ';
        std::size_t p = 0;
        while (p < rest.size()) {
          const auto q = rest.find(' ', p);
          const auto word = rest.substr(p, q == std::string::npos ? std::string::npos : q - p);
          if (!word.empty()) keywords.push_back(word);
          if (q == std::string::npos) break;
          p = q + 1;
        }
        continue;
      }
      if (name == "x-uid" || name == "x-imap" || name == "x-imapbase") continue;
      if (headers.size() + line.size() > options.header_bytes_max) oversized = true;
      if (!oversized) headers += line + "\n";
      continue;
    }
    if (line.empty()) {
      held_blank = true;
      continue;
    }
    std::string_view body_line = line;
    if (is_quoted_from(body_line)) body_line.remove_prefix(1);
    if (auto r = put(body_line); !r) return kio::fail(r.error());
    if (auto r = put("\n"); !r) return kio::fail(r.error());
  }
  // A blank line at the very end of the file is the separator's, too.
  if (auto r = finish(); !r) return kio::fail(r.error());
  if (auto r = imp.commit(); !r) return kio::fail(r.error());
  return imp.report;
}

kio::result<std::uint64_t, errc> export_mbox(const message_store& store, account_id account, mailbox_id mailbox,
                                             const std::string& mbox_path) {
  const auto* box = store.mailbox(account, mailbox);
  if (!box) return kio::fail(errc::unknown_mailbox);
  std::ofstream out(mbox_path, std::ios::binary | std::ios::trunc);
  if (!out) return kio::fail(errc::io_error);
  std::uint64_t count = 0;
  for (const auto& [uid, m] : box->messages) {
    auto bytes = store.read_message(account, mailbox, uid);
    if (!bytes) return kio::fail(bytes.error());
    const std::string body = to_lf(*bytes);
    out << "From MAILER-DAEMON " << format_asctime(m.internal_date_ms) << "\n";
    // Metadata headers first, then the message; the body's own header
    // block follows unchanged.
    std::string status = (m.flags & message_flag::seen) ? "RO" : "O";
    std::string xstatus;
    if (m.flags & message_flag::answered) xstatus += 'A';
    if (m.flags & message_flag::flagged) xstatus += 'F';
    if (m.flags & message_flag::draft) xstatus += 'T';
    if (m.flags & message_flag::deleted) xstatus += 'D';
    out << "Status: " << status << "\n";
    if (!xstatus.empty()) out << "X-Status: " << xstatus << "\n";
    if (!m.keywords.empty()) {
      out << "X-Keywords:";
      for (const auto& k : m.keywords) out << ' ' << k;
      out << "\n";
    }
    std::size_t p = 0;
    while (p < body.size()) {
      auto q = body.find('\n', p);
      const std::string_view l = std::string_view(body).substr(p, q == std::string::npos ? std::string::npos : q - p);
      if (is_from_line(l) || is_quoted_from(l)) out << '>';
      out << l << "\n";
      if (q == std::string::npos) break;
      p = q + 1;
    }
    if (!body.empty() && body.back() != '\n') {
      // A message without a final newline gains one; noted in the README.
    }
    out << "\n";
    ++count;
  }
  out.flush();
  if (!out) return kio::fail(errc::io_error);
  return count;
}

}  // namespace store::port
