package dnltest

import (
	"encoding/json"
	"strconv"
)

// The list and the one-user answers are written by hand, byte for byte as
// encoding/json writes them (TestEncodeLikeEncodingJSON holds it to
// that): a page of a thousand users through reflection cost the process
// serving the fake 8 ms, on the CPU the client measured against it shares.

// appendUser appends u as encoding/json writes u.clone() (whose lists are
// never nil, so they are written [] and not null).
func appendUser(b []byte, u *User) []byte {
	b = append(b, `{"user_id":`...)
	b = strconv.AppendInt(b, u.UserID, 10)
	b = appendStringField(b, `,"passwd":`, u.Passwd)
	b = appendStringField(b, `,"user_type":`, u.UserType)
	b = appendBoolField(b, `,"active":`, u.Active)
	b = appendStringPtrField(b, `,"carrier_name":`, u.CarrierName)
	b = appendStringField(b, `,"default_mod":`, u.DefaultMod)
	b = appendIntPtrField(b, `,"reseller_id":`, u.ResellerID)
	b = appendBoolField(b, `,"outbound_report":`, u.OutboundReport)
	b = append(b, `,"client_limits":`...)
	{
		b = append(b, '[')
		for i, l := range u.ClientLimits {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"client_id":`...)
			b = strconv.AppendInt(b, l.ClientID, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendStringPtrField(b, `,"last_name":`, u.LastName)
	b = appendIntPtrField(b, `,"role_id":`, u.RoleID)
	b = appendStringPtrField(b, `,"last_login_time":`, u.LastLoginTime)
	b = appendBoolField(b, `,"all_termination":`, u.AllTermination)
	b = appendStringField(b, `,"report_fields":`, u.ReportFields)
	b = append(b, `,"client":`...)
	if c := u.Client; c == nil {
		b = append(b, "null"...)
	} else {
		b = appendBoolField(b, `{"is_panel_ratetable":`, c.IsPanelRatetable)
		b = appendBoolField(b, `,"is_panel_invoices":`, c.IsPanelInvoices)
		b = appendBoolField(b, `,"is_panel_products":`, c.IsPanelProducts)
		b = appendBoolField(b, `,"is_panel_paymenthistory":`, c.IsPanelPaymenthistory)
		b = appendStringField(b, `,"carrier_name":`, c.CarrierName)
		b = appendBoolField(b, `,"is_panel_trunks":`, c.IsPanelTrunks)
		b = appendBoolField(b, `,"is_panel_balance":`, c.IsPanelBalance)
		b = appendBoolField(b, `,"is_panel_onlinepayment":`, c.IsPanelOnlinepayment)
		b = appendBoolField(b, `,"is_panel_cid_blocking":`, c.IsPanelCidBlocking)
		b = appendBoolField(b, `,"is_panel_sippacket":`, c.IsPanelSippacket)
		b = appendBoolField(b, `,"is_panelaccess":`, c.IsPanelaccess)
		b = appendBoolField(b, `,"is_panel_accountsummary":`, c.IsPanelAccountsummary)
		b = appendBoolField(b, `,"is_panel_summaryreport":`, c.IsPanelSummaryreport)
		b = appendBoolField(b, `,"is_panel_cdrslist":`, c.IsPanelCdrslist)
		b = append(b, '}')
	}
	b = appendStringField(b, `,"report_count":`, u.ReportCount)
	b = appendStringField(b, `,"name":`, u.Name)
	b = appendStringField(b, `,"first_name":`, u.FirstName)
	b = appendStringPtrField(b, `,"cdr_expire":`, u.CdrExpire)
	b = appendBoolField(b, `,"is_preload":`, u.IsPreload)
	b = appendStringField(b, `,"landing_page":`, u.LandingPage)
	b = appendStringPtrField(b, `,"login_ip":`, u.LoginIP)
	b = appendStringField(b, `,"default_mod2":`, u.DefaultMod2)
	b = appendIntPtrField(b, `,"avatar_id":`, u.AvatarID)
	b = append(b, `,"create_user_id":`...)
	b = strconv.AppendInt(b, u.CreateUserID, 10)
	b = appendStringField(b, `,"create_time":`, u.CreateTime)
	b = append(b, `,"agent":`...)
	b = appendJSON(b, u.Agent)
	b = appendBoolField(b, `,"report_group":`, u.ReportGroup)
	b = append(b, `,"auth_ip":`...)
	{
		b = append(b, '[')
		for i, ip := range u.AuthIP {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStringField(b, `{"ip":`, ip.IP)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"default_billing_decimal":`...)
	b = strconv.AppendInt(b, int64(u.DefaultBillingDecimal), 10)
	b = appendIntPtrField(b, `,"card_id":`, u.CardID)
	b = appendStringField(b, `,"email":`, u.Email)
	b = appendStringPtrField(b, `,"last_seen":`, u.LastSeen)
	b = append(b, `,"is_online":`...)
	b = strconv.AppendInt(b, int64(u.IsOnline), 10)
	b = appendStringField(b, `,"role_name":`, u.RoleName)
	b = appendIntPtrField(b, `,"client_id":`, u.ClientID)
	b = appendStringPtrField(b, `,"fullname":`, u.Fullname)
	b = appendStringPtrField(b, `,"cdr_api_token":`, u.CdrAPIToken)
	b = appendBoolField(b, `,"show_carrier_trunk_drop_only":`, u.ShowCarrierTrunkDropOnly)
	return append(b, '}')
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

func appendStringField(b []byte, key, v string) []byte {
	return appendString(append(b, key...), v)
}

func appendStringPtrField(b []byte, key string, v *string) []byte {
	b = append(b, key...)
	if v == nil {
		return append(b, "null"...)
	}
	return appendString(b, *v)
}

func appendIntPtrField(b []byte, key string, v *int64) []byte {
	b = append(b, key...)
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

// appendString appends s quoted as encoding/json quotes it: plain
// printable ASCII as it is, anything it escapes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendJSON(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSON appends v as encoding/json writes it.
func appendJSON(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		panic("dnltest: " + err.Error()) // only the fake's own values are written
	}
	return append(b, out...)
}
