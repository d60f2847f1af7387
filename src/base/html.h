// Text made safe for HTML reports and pages (element content and quoted attribute values).
#pragma once

#include <string>

namespace tessera {

// `text` with &, <, >, " and ' replaced by their character references.
std::string html_escape(const std::string& text);

}  // namespace tessera
