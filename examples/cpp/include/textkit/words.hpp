#pragma once

#include <map>
#include <string>

namespace textkit {

// Counts the words of text, folded to lower case.
std::map<std::string, int> count_words(const std::string &text);

std::string to_lower(std::string s);

}  // namespace textkit
