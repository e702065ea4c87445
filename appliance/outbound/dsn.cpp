#include "appliance/outbound/dsn.h"

#include <ctime>

namespace appliance::outbound {

std::string rfc5322_date(uint64_t ms) {
  time_t t = time_t(ms / 1000);
  tm g{};
  gmtime_r(&t, &g);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &g);
  return buf;
}

namespace {

// The header block of a message: everything before the first empty line.
std::string_view headers_of(std::string_view message) {
  size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) return message;
  return message.substr(0, end + 2);
}

// Header values built from remote replies must not break the header: no CR
// or LF, and a bounded length.
std::string one_line(std::string_view s, size_t max = 900) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      // Never end inside a UTF-8 sequence: drop a cut sequence's lead and
      // continuation bytes.
      while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
      if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
      break;
    }
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out;
}

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

}  // namespace

std::string compose_dsn(const dsn_request& r) {
  bool delayed = !r.recipients.empty() && r.recipients.front().action == "delayed";
  // RFC 6533: an internationalized address cannot go into an "rfc822;"
  // field of a message/delivery-status part (7-bit headers only). Such a
  // report is a message/global-delivery-status whose addresses are typed
  // "utf-8;", and a returned SMTPUTF8 message travels as message/global.
  bool global = has_non_ascii(headers_of(r.original));
  for (const auto& rc : r.recipients) global = global || has_non_ascii(rc.address) || has_non_ascii(rc.orcpt);
  std::string boundary = "=_ringmail_dsn_" + r.boundary_seed;
  std::string m;
  m += "From: Mail Delivery System <" + r.from + ">\r\n";
  m += "To: <" + r.to + ">\r\n";
  m += delayed ? "Subject: Delivery delayed: still trying\r\n" : "Subject: Undelivered Mail Returned to Sender\r\n";
  m += "Date: " + rfc5322_date(r.now_ms) + "\r\n";
  m += "Message-ID: <" + r.boundary_seed + ".dsn@" + r.reporting_mta + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a MIME-encapsulated message.\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Description: Notification\r\n\r\n";
  m += "This is the mail system at host " + r.reporting_mta + ".\r\n\r\n";
  if (delayed)
    m += "Your message could not be delivered yet to the recipients below. The mail system\r\n"
         "will keep trying; you do not need to send it again.\r\n\r\n";
  else
    m += "Your message could not be delivered to the recipients below. This is a\r\n"
         "permanent error; the mail system has given up on them.\r\n\r\n";
  for (const auto& rc : r.recipients)
    m += "<" + one_line(rc.address, 300) + ">: " + one_line(rc.diagnostic) + "\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += global ? "Content-Type: message/global-delivery-status\r\n" : "Content-Type: message/delivery-status\r\n";
  m += "Content-Description: Delivery report\r\n\r\n";
  m += "Reporting-MTA: dns; " + r.reporting_mta + "\r\n";
  if (!r.envid.empty()) m += "Original-Envelope-Id: " + one_line(r.envid, 100) + "\r\n";
  m += "Arrival-Date: " + rfc5322_date(r.arrival_ms) + "\r\n";
  for (const auto& rc : r.recipients) {
    m += "\r\n";
    if (!rc.orcpt.empty()) m += "Original-Recipient: " + one_line(rc.orcpt, 300) + "\r\n";
    m += (has_non_ascii(rc.address) ? "Final-Recipient: utf-8; " : "Final-Recipient: rfc822; ") +
         one_line(rc.address, 300) + "\r\n";
    m += "Action: " + rc.action + "\r\n";
    m += "Status: " + rc.status + "\r\n";
    if (!rc.remote_mta.empty()) m += "Remote-MTA: dns; " + one_line(rc.remote_mta, 255) + "\r\n";
    if (!rc.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + one_line(rc.diagnostic) + "\r\n";
    m += "Last-Attempt-Date: " + rfc5322_date(r.now_ms) + "\r\n";
    if (rc.action == "delayed" && r.retry_until_ms) m += "Will-Retry-Until: " + rfc5322_date(r.retry_until_ms) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\n";
  if (r.ret == "FULL") {
    m += global ? "Content-Type: message/global\r\n" : "Content-Type: message/rfc822\r\n";
    m += "Content-Description: Undelivered Message\r\n\r\n";
    m += r.original;
    if (!r.original.ends_with("\r\n")) m += "\r\n";
  } else {
    m += global ? "Content-Type: message/global-headers\r\n" : "Content-Type: text/rfc822-headers\r\n";
    m += "Content-Description: Undelivered Message Headers\r\n\r\n";
    m += headers_of(r.original);
  }
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace appliance::outbound
