#!/bin/sh
# Makes the workbooks the tests read, with a spreadsheet program rather
# than the library that reads them: LibreOffice Calc, headless (Debian's
# libreoffice-calc-nogui), saves each OpenDocument flat-XML spreadsheet
# (.fods, written by hand: each cell says how it is stored) here as .xlsx.
# The .xlsx files are kept in the repository; run this from this folder
# only to make them again after editing a .fods file:
#
#	sh make_workbooks.sh
#
# Made with LibreOffice 7.4.7.2 (Debian 12). A workbook holds the time it
# was made, so each run gives other bytes for the same cells.
set -eu
cd "$(dirname "$0")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for fods in *.fods; do
	# A profile of its own, so that a LibreOffice the user has open is not
	# asked to do the conversion (and so that none of its settings apply).
	libreoffice --headless -env:UserInstallation="file://$profile" \
		--convert-to xlsx:"Calc MS Excel 2007 XML" --outdir . "$fods"
done
