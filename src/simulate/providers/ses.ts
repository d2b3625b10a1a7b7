import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { json } from '../format.js';
import { KeyError, readPrivateKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { stableId, stableUuid } from '../rng.js';
import { type KeyFiles, simulator } from '../types.js';

/**
 * Amazon SES event publishing through an Amazon SNS HTTP(S) subscription: one SNS Notification per
 * SES event, its `Message` the SES record as JSON, signed with SignatureVersion 1 (SHA1withRSA) over
 * the documented string to sign. SNS signs with a certificate only Amazon holds, so the simulator
 * needs a key pair the server trusts: a directory holding `<name>.key` (RSA private key) and
 * `<name>.pem` (its certificate), given to the server as MAILHOOK_SNS_CERT_DIR. The SigningCertURL
 * names `<name>.pem` on the SNS host of the topic's region, which is how the server finds it.
 * Record shapes follow test/fixtures/ses/ (SES "event publishing" examples).
 */
export interface SnsSigner {
  key: KeyObject;
  certUrl: string;
  topicArn: string;
}

const DEFAULT_TOPIC = 'arn:aws:sns:us-east-1:123456789012:mailhook-simulate';
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$/;

function signerFrom(keys: string[], files: KeyFiles): SnsSigner {
  const topicArn = keys.find((k) => k.startsWith('arn:')) ?? DEFAULT_TOPIC;
  const region = TOPIC_ARN.exec(topicArn)?.[1];
  if (!region)
    throw new KeyError(`--key ${topicArn} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)`);
  const dirs = keys.filter((k) => !k.startsWith('arn:'));
  const [dir] = dirs;
  if (dir === undefined || dirs.length > 1) {
    throw new KeyError(
      '--provider ses needs --key <directory with NAME.key and NAME.pem> (and optionally --key <topic ARN>)',
    );
  }
  let names: string[];
  try {
    names = files.list(dir);
  } catch {
    throw new KeyError(`--key ${dir} is not a readable directory`);
  }
  const pairs = names.filter((n) => n.endsWith('.key') && names.includes(`${n.slice(0, -4)}.pem`));
  const [keyFile] = pairs;
  if (keyFile === undefined || pairs.length > 1) {
    throw new KeyError(`${dir} must hold exactly one NAME.key with its certificate NAME.pem`);
  }
  const certName = `${keyFile.slice(0, -4)}.pem`;
  if (!/^[\w.-]+\.pem$/.test(certName))
    throw new KeyError(`${certName}: certificate names may hold only letters, digits, . _ -`);
  return {
    key: readPrivateKey(`${dir.replace(/\/+$/, '')}/${keyFile}`, files, 'rsa'),
    certUrl: `https://sns.${region}.amazonaws.com/${certName}`,
    topicArn,
  };
}

function mailOf(event: SimEvent, messageId: string): Record<string, unknown> {
  const msg = event.message;
  return {
    timestamp: msg.sentAt.toISOString(),
    source: msg.from,
    sourceArn: `arn:aws:ses:us-east-1:123456789012:identity/${msg.from.split('@')[1]}`,
    sendingAccountId: '123456789012',
    messageId,
    destination: [msg.recipient],
    headersTruncated: false,
    headers: [
      { name: 'From', value: msg.from },
      { name: 'To', value: msg.recipient },
      { name: 'Subject', value: msg.subject },
    ],
    commonHeaders: { from: [msg.from], to: [msg.recipient], messageId, subject: msg.subject },
    tags: {
      'ses:configuration-set': ['mailhook-simulate'],
      'ses:from-domain': [msg.from.split('@')[1]],
      'ses:caller-identity': ['ses_user'],
      campaign: [msg.tag],
    },
  };
}

function recordOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const messageId = `0100018${stableId(`ses:${msg.key}`, 9)}-${stableUuid(`ses:${msg.key}`)}-000000`;
  const mail = mailOf(event, messageId);
  const at = event.at.toISOString();
  switch (event.kind) {
    case 'delivered':
      return {
        eventType: 'Delivery',
        mail,
        delivery: {
          timestamp: at,
          processingTimeMillis: event.at.getTime() - msg.sentAt.getTime(),
          recipients: [msg.recipient],
          smtpResponse: '250 2.6.0 Message received',
          reportingMTA: 'a8-30.smtp-out.amazonses.com',
        },
      };
    case 'opened':
      return {
        eventType: 'Open',
        mail,
        open: { ipAddress: event.ip, timestamp: at, userAgent: event.userAgent },
      };
    case 'clicked':
      return {
        eventType: 'Click',
        mail,
        click: {
          ipAddress: event.ip,
          link: event.url,
          linkTags: {},
          timestamp: at,
          userAgent: event.userAgent,
        },
      };
    case 'bounced':
      return {
        eventType: 'Bounce',
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: 'General',
          bouncedRecipients: [
            {
              emailAddress: msg.recipient,
              action: 'failed',
              status: '5.1.1',
              diagnosticCode: 'smtp; 550 5.1.1 user unknown',
            },
          ],
          timestamp: at,
          feedbackId: `0100018${stableId(`ses:fb:${event.key}`, 9)}-${stableUuid(`ses:fb:${event.key}`)}-000000`,
          reportingMTA: 'dsn; a8-30.smtp-out.amazonses.com',
        },
        mail,
      };
    case 'complained':
      return {
        eventType: 'Complaint',
        complaint: {
          complainedRecipients: [{ emailAddress: msg.recipient }],
          timestamp: at,
          feedbackId: `0100018${stableId(`ses:fb:${event.key}`, 9)}-${stableUuid(`ses:fb:${event.key}`)}-000000`,
          userAgent: 'Yahoo!-Mail-Feedback/2.0',
          complaintFeedbackType: 'abuse',
          arrivalDate: at,
        },
        mail,
      };
  }
}

/** `Key\nValue\n` for each signed key of a Notification, in the documented order (no Subject here). */
function stringToSign(fields: Record<string, string>): string {
  return ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type']
    .map((k) => `${k}\n${fields[k]}\n`)
    .join('');
}

export const sesSimulator = simulator<SnsSigner>({
  id: 'ses',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp:
    'a directory holding NAME.key (RSA) and NAME.pem (its certificate), e.g. test/fixtures/ses/signing; start the server with MAILHOOK_SNS_CERT_DIR set to the same directory. Optionally a second --key <topic ARN>',
  credential: signerFrom,
  forge: (signer) => ({ ...signer, key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }),
  sourceConfig: (signer) => ({ topic_arn: signer.topicArn }),
  request(events, signer, ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('ses posts one event per request');
    const fields: Record<string, string> = {
      Type: 'Notification',
      MessageId: stableUuid(`sns:${event.key}`),
      TopicArn: signer.topicArn,
      Message: json(recordOf(event)),
      Timestamp: ctx.now.toISOString(),
    };
    const signature = sign('sha1', Buffer.from(stringToSign(fields), 'utf8'), signer.key).toString('base64');
    const host = new URL(signer.certUrl).host;
    const subscription = `${signer.topicArn}:${stableUuid(`sns:sub:${signer.topicArn}`)}`;
    const body = json({
      ...fields,
      SignatureVersion: '1',
      Signature: signature,
      SigningCertURL: signer.certUrl,
      UnsubscribeURL: `https://${host}/?Action=Unsubscribe&SubscriptionArn=${subscription}`,
    });
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'text/plain; charset=UTF-8',
        'user-agent': 'Amazon Simple Notification Service Agent',
        'x-amz-sns-message-type': 'Notification',
        'x-amz-sns-message-id': fields.MessageId ?? '',
        'x-amz-sns-topic-arn': signer.topicArn,
        'x-amz-sns-subscription-arn': subscription,
      },
      body,
    };
  },
});
