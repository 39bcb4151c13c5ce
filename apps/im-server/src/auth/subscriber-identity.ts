/**
 * A presented user name (the digest or HTTP Basic username, RFC 3261 §22.4: "the user part of the AOR") as the
 * AOR it names, through the product's one subscriber check (`checkSubscriber` of libs/ch2): a sip:/sips: URI of
 * this domain, at most 256 characters — the same rule the admin APIs and CH-2 apply, so an identity the SIP front
 * accepts is one the enabler accepts too.
 */
import { checkSubscriber, SubscriberCheck } from '@imc/ch2';

export function identityOfUsername(username: string, domain: string): SubscriberCheck {
  const text = username.includes('@') ? (/^sips?:/i.test(username) ? username : `sip:${username}`) : `sip:${username}@${domain}`;
  return checkSubscriber('username', text, { schemes: ['sip', 'sips'], domain });
}
