#!/usr/bin/env python3
"""Writes the Smartflo roster fixtures byte for byte as the tools write them.

Run from this directory: python3 make_fixtures.py. The files are kept in
the repository; this script only records how they were made.

- smartflo_clean.csv          UTF-8, no BOM, LF, commas (a hand-written roster)
- smartflo_utf8_bom_crlf.csv  Excel "CSV UTF-8": BOM, CRLF, commas
- smartflo_excel_de.csv       German Excel "CSV UTF-8": BOM, CRLF, semicolons
- smartflo_cp1252.csv         German Excel "CSV (Trennzeichen-getrennt)":
                              Windows-1252, CRLF, semicolons, no BOM
- smartflo_unicode_text.csv   Excel "Unicode text": UTF-16LE with BOM, CRLF, tabs
- smartflo_phone_scientific.csv  the number column as Excel's General
                              format saves a 12-digit number: 9.1981E+11
- smartflo_phone_no_plus.csv  the number column after Excel read
                              "+919810000002" as a number: the + is gone
- smartflo_agent_ids_mangled.csv  agent ids read as numbers: the leading 0
                              dropped, or scientific notation
- hr_export.csv               an HR system's export (Excel "CSV UTF-8"), its
                              columns not named after fields
- hr_mapping.csv              the mapping file for it, as German Excel saves
                              it: Windows-1252, semicolons, CRLF
"""
import csv
import io

HEADER = ["id", "name", "email", "number", "designation", "block_agent",
          "user_for_cdr.type", "user_for_cdr.value"]
ROWS = [
    ["314678", "José Müller", "jose@example.com", "+91 98100-00001", "Lead, Ops",
     "false", "agent", "0502842370097|0502842370098"],
    ["370822", "Zoë Renée", "zoe@example.com", "+919810000002", "Büro Köln",
     "TRUE", "all", ""],
    ["370823", "Anders Ångström", "", "+49 (0)30 1234567", "(Clear)", "no", "", ""],
]


def write(name, header, rows, delimiter=",", newline="\r\n", encoding="utf-8"):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    with open(name, "wb") as f:
        f.write(buf.getvalue().encode(encoding))


write("smartflo_clean.csv", HEADER, ROWS, newline="\n")
write("smartflo_utf8_bom_crlf.csv", HEADER, ROWS, encoding="utf-8-sig")
write("smartflo_excel_de.csv", HEADER, ROWS, delimiter=";", encoding="utf-8-sig")
write("smartflo_cp1252.csv", HEADER, ROWS, delimiter=";", encoding="cp1252")
write("smartflo_unicode_text.csv", HEADER, ROWS, delimiter="\t", encoding="utf-16")

PHONE = ["id", "name", "number"]
write("smartflo_phone_scientific.csv", PHONE, [
    ["314678", "José Müller", "9.1981E+11"],
    ["370822", "Zoë Renée", "+91 98100-00002"],  # typed with spaces: stayed text
    ["370823", "Anders Ångström", ""],
])
write("smartflo_phone_no_plus.csv", PHONE, [
    ["314678", "José Müller", "+91 98100 00001"],
    ["370822", "Zoë Renée", "919810000002"],
    ["370823", "Anders Ångström", "+919810000003"],
])
write("smartflo_agent_ids_mangled.csv", ["id", "user_for_cdr.type", "user_for_cdr.value"], [
    ["314678", "agent", "502842370097"],
    ["370822", "agent", "0502842370097|5.02842E+11"],
    ["370823", "agent", "0502842370097|0502842370098"],
])

write("hr_export.csv",
      ["Employee No", "Smartflo ID", "Full Name", "Work E-mail", "Mobile", "Straße", "Job Title", "Leaver"], [
          ["E100", "314678", "José Müller", "jose@example.com", "+91 98100 00001", "Hauptstraße 1", "Team lead", "no"],
          ["E101", "370822", "Zoë Renée", "zoe@example.com", "919810000002", "Ringstraße 5", "Agent", "yes"],
          ["E102", "370823", "Anders Ångström", "", "", "", "", ""],
      ], encoding="utf-8-sig")
write("hr_mapping.csv", ["Column", "Field"], [
    ["Employee No", ""],
    ["Smartflo ID", "id"],
    ["Full Name", "name"],
    ["Work E-mail", "email"],
    ["Mobile", "number"],
    ["Straße", ""],
    ["Job Title", "designation"],
    ["Leaver", "block_agent"],
], delimiter=";", encoding="cp1252")
