-- Shared by the scripts that charge an account (reserve, direct debit): the account must exist, be active, and
-- be kept in the tariff's currency. Returns the account fields, or a refusal answer as the second value.
local function chargeable(acctKey, requestId, subscriber, service, tariffCurrency)
  local acct = readAccount(acctKey, service)
  if not acct then
    return nil, answer({requestId = requestId, result = RESULT.USER_UNKNOWN, resultCode = CODE.USER_UNKNOWN, message = 'no account for ' .. subscriber})
  end
  if acct.state ~= 'active' then
    return nil, answer({requestId = requestId, result = RESULT.END_USER_SERVICE_DENIED, resultCode = CODE.END_USER_SERVICE_DENIED, message = 'account is ' .. acct.state, currency = acct.currency})
  end
  if acct.currency ~= tariffCurrency then
    return nil, answer({requestId = requestId, result = RESULT.RATING_FAILED, resultCode = CODE.RATING_FAILED, currency = acct.currency,
      message = 'tariff for ' .. service .. ' is in ' .. tariffCurrency .. ' but the account is in ' .. acct.currency})
  end
  return acct, nil
end
