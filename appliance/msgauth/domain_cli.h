#pragma once
// `ringmail domain dkim generate|sign|records`: the operator's side of DKIM
// and of the DNS records a mail domain needs. These commands work on the
// data directory's key files directly (no daemon needed); the daemon loads
// keys at start.

#include <string>

namespace appliance {

// Generates a key, prints the records to publish. Returns the exit code.
int dkim_generate_command(const std::string& data_dir, const std::string& mail_host, const std::string& domain,
                          const std::string& algorithm, const std::string& selector);
// Prints the records for a domain with its active key (if any).
int domain_records_command(const std::string& data_dir, const std::string& mail_host, const std::string& domain);
// Reads a message on stdin, writes it to stdout with the domain's
// DKIM-Signature field prepended.
int dkim_sign_command(const std::string& data_dir, const std::string& domain);
// Looks up every record domain_records_command recommends and says, one
// line each, which are present, missing or wrong. Exit code 0 when the
// required ones (MX, SPF, DKIM when a key exists, DMARC) are right, 1 if
// not; the SRV records only warn.
struct dns_settings;
int domain_check_command(const std::string& data_dir, const std::string& mail_host, const dns_settings& dns,
                         const std::string& domain);

}  // namespace appliance
