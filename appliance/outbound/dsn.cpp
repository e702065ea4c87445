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
    if (out.size() >= max) break;
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string compose_dsn(const dsn_request& r) {
  bool delayed = !r.recipients.empty() && r.recipients.front().action == "delayed";
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
  m += "Content-Type: message/delivery-status\r\n";
  m += "Content-Description: Delivery report\r\n\r\n";
  m += "Reporting-MTA: dns; " + r.reporting_mta + "\r\n";
  if (!r.envid.empty()) m += "Original-Envelope-Id: " + one_line(r.envid, 100) + "\r\n";
  m += "Arrival-Date: " + rfc5322_date(r.arrival_ms) + "\r\n";
  for (const auto& rc : r.recipients) {
    m += "\r\n";
    if (!rc.orcpt.empty()) m += "Original-Recipient: " + one_line(rc.orcpt, 300) + "\r\n";
    m += "Final-Recipient: rfc822; " + one_line(rc.address, 300) + "\r\n";
    m += "Action: " + rc.action + "\r\n";
    m += "Status: " + rc.status + "\r\n";
    if (!rc.remote_mta.empty()) m += "Remote-MTA: dns; " + one_line(rc.remote_mta, 255) + "\r\n";
    if (!rc.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + one_line(rc.diagnostic) + "\r\n";
    m += "Last-Attempt-Date: " + rfc5322_date(r.now_ms) + "\r\n";
    if (rc.action == "delayed" && r.retry_until_ms) m += "Will-Retry-Until: " + rfc5322_date(r.retry_until_ms) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\n";
  if (r.ret == "FULL") {
    m += "Content-Type: message/rfc822\r\n";
    m += "Content-Description: Undelivered Message\r\n\r\n";
    m += r.original;
    if (!r.original.ends_with("\r\n")) m += "\r\n";
  } else {
    m += "Content-Type: text/rfc822-headers\r\n";
    m += "Content-Description: Undelivered Message Headers\r\n\r\n";
    m += headers_of(r.original);
  }
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace appliance::outbound
