-- wrk: POST one HubSpot-shaped event (unsigned: for the baselines that check no signature)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '[{"eventId":1,"subscriptionId":2941,"portalId":62515,"appId":54321,"occurredAt":1790000000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":501,"propertyName":"jobtitle","propertyValue":"課長","changeSource":"CRM_UI","sourceId":"userId:45678"}]'
